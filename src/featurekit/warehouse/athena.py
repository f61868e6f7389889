"""The Athena warehouse engine: run a view's Athena SQL with pyathena and return Arrow.

The query is wrapped in ``UNLOAD (...) TO '<results_location>/unload/<uuid>/' WITH (format = 'PARQUET')``, so
Athena writes the result as parquet (typed, compressed, parallel) instead of the CSV ``GetQueryResults`` pages; the
worker reads those files and deletes them. Extract then casts the rows to the view's schema and writes the offline
partition itself: the kit, not Athena, owns the partition layout (``batch-*`` files next to the streaming sink's
``stream-*``), the ``created`` stamp and the schema-drift check, identically in every environment.

Workgroup, results location and region come from ``settings.warehouse``; the endpoint and credentials from the
standard AWS environment (``AWS_ENDPOINT_URL_ATHENA``/``AWS_ENDPOINT_URL`` in tests).
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from featurekit.config.settings import AthenaWarehouse
from featurekit.warehouse.engine import WarehouseQueryError

_ATHENA_TYPES = {
    "bigint": pa.int64(),
    "integer": pa.int32(),
    "int": pa.int32(),
    "smallint": pa.int16(),
    "tinyint": pa.int8(),
    "double": pa.float64(),
    "float": pa.float32(),
    "real": pa.float32(),
    "boolean": pa.bool_(),
    "varchar": pa.string(),
    "string": pa.string(),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
}


def s3_filesystem(region: str) -> pafs.S3FileSystem:
    """pyarrow's S3 client with the standard endpoint override variables honoured (moto in tests)."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    return pafs.S3FileSystem(region=region, endpoint_override=endpoint)


class AthenaEngine:
    """Runs Athena-dialect SELECTs in the configured workgroup."""

    def __init__(self, warehouse: AthenaWarehouse) -> None:
        self.warehouse = warehouse

    def _connect(self) -> Any:
        from pyathena import connect

        return connect(
            work_group=self.warehouse.workgroup,
            s3_staging_dir=self.warehouse.results_location,
            region_name=self.warehouse.region,
            schema_name=self.warehouse.database,
        )

    def unload_statement(self, athena_sql: str, target: str) -> str:
        return f"UNLOAD ({athena_sql}) TO '{target}' WITH (format = 'PARQUET', compression = 'ZSTD')"

    def query_arrow(self, athena_sql: str) -> pa.Table:
        from pyathena.error import OperationalError

        target = f"{self.warehouse.results_location.rstrip('/')}/unload/{uuid.uuid4().hex}/"
        with self._connect() as connection:
            cursor = connection.cursor()
            try:
                cursor.execute(self.unload_statement(athena_sql, target))
            except OperationalError as exc:  # the query ran and FAILED: its reason is Athena's error message
                raise WarehouseQueryError(f"Athena ({self.warehouse.workgroup}): {exc}") from exc
            fs = s3_filesystem(self.warehouse.region)
            base = target.removeprefix("s3://").rstrip("/")
            files = [
                f.path
                for f in fs.get_file_info(pafs.FileSelector(base, allow_not_found=True))
                if f.type == pafs.FileType.File
            ]
            if not files:  # UNLOAD writes no file for an empty result: ask for the columns only
                return self._empty_result(cursor, athena_sql)
            try:
                return ds.dataset(files, filesystem=fs, format="parquet").to_table()
            finally:
                fs.delete_dir(base)

    def _empty_result(self, cursor: Any, athena_sql: str) -> pa.Table:
        cursor.execute(f"SELECT * FROM ({athena_sql}) AS result LIMIT 0")
        fields = [
            pa.field(name, _ATHENA_TYPES.get(str(kind).lower(), pa.string())) for name, kind, *_ in cursor.description
        ]
        return pa.schema(fields).empty_table()
