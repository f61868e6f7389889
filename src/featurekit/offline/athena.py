"""The AWS offline backend: partitioned parquet on S3, registered in the Glue catalog and read by Athena.

Config and implementation of the backend in one place (see :class:`featurekit.config.backends.OfflineBackend`).
In the deployed environments Terraform creates the Glue tables with partition projection on ``ds`` (Athena computes
partitions from the path template, nothing to register); :func:`register_partition` sees that and does nothing.
Without projection (a dev account, an older table) it creates the ``ds=<partition>`` partition, or updates it on a
rerun, so a new partition is queryable the moment its extract finishes. Heavy libraries (pyarrow, boto3, Feast) are
imported by the functions: loading the settings must stay cheap.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Any, Literal

from featurekit.config.model import AthenaConnection
from featurekit.offline.layout import CREATED_FIELD, PARTITION_KEY, SOURCE_OWNER, TIMESTAMP_FIELD, partition_dir

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.fs as pafs
    from feast.data_source import DataSource

PARQUET_SD = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
}
# Feast's offline store class for this backend (its module imports Feast: named here, loaded by Feast).
TRAINING_STORE_TYPE = "featurekit.offline.athena_training.ValidatedAthenaOfflineStore"
_GLUE_TYPES = {"int64": "bigint", "int32": "int", "double": "double", "float": "float",
               "string": "string", "bool": "boolean", "binary": "binary"}  # fmt: skip


class AthenaOfflineStore(AthenaConnection):
    """Offline store as partitioned parquet on S3, registered in Glue and read by Athena."""

    type: Literal["athena"] = "athena"
    s3_root: str

    def filesystem(self) -> tuple[pafs.FileSystem, str, str]:
        import pyarrow.fs as pafs

        # S3 endpoint and credentials come from the standard AWS environment (AWS_ENDPOINT_URL in tests).
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        fs = pafs.S3FileSystem(region=self.region, endpoint_override=endpoint)
        return fs, self.s3_root.removeprefix("s3://"), self.s3_root

    def publish_partition(self, view: str, partition: str) -> str:
        return register_partition(self, view, partition)

    def feast_source(self, view: str, description: str) -> DataSource:
        from feast.infra.offline_stores.contrib.athena_offline_store.athena_source import AthenaSource

        return AthenaSource(
            name=f"{view}_offline",
            table=view,
            database=self.database,
            data_source="AwsDataCatalog",
            timestamp_field=TIMESTAMP_FIELD,
            created_timestamp_column=CREATED_FIELD,
            description=description,
            owner=SOURCE_OWNER,
            tags={"feature_view": view},
        )

    def feast_store_block(self, training_requires_validation: bool) -> dict[str, Any]:
        # Feast's Athena store with the kit's validation filter on training reads (featurekit.offline.athena_training).
        return {
            "type": TRAINING_STORE_TYPE,
            "s3_root": self.s3_root,
            "training_requires_validation": training_requires_validation,
            "region": self.region,
            "database": self.database,
            "data_source": "AwsDataCatalog",
            "workgroup": self.workgroup,
            "s3_staging_location": self.results_location,
        }


def glue_client(store: AthenaOfflineStore) -> Any:
    import boto3

    return boto3.client("glue", region_name=store.region)


def glue_type(arrow: pa.DataType) -> str:
    """The Glue column type of an Arrow type (timestamps of any unit are ``timestamp``)."""
    import pyarrow as pa

    if pa.types.is_timestamp(arrow):
        return "timestamp"
    try:
        return _GLUE_TYPES[str(arrow)]
    except KeyError:
        raise TypeError(f"no Glue type for Arrow {arrow}") from None


def ensure_table(store: AthenaOfflineStore, view: str, schema: pa.Schema) -> None:
    """Create the view's Glue table (database too) if missing; Terraform does this in deployed accounts."""
    glue = glue_client(store)
    with contextlib.suppress(glue.exceptions.AlreadyExistsException):
        glue.create_database(DatabaseInput={"Name": store.database})
    table = {
        "Name": view,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "parquet", "EXTERNAL": "TRUE"},
        "PartitionKeys": [{"Name": PARTITION_KEY, "Type": "string"}],
        "StorageDescriptor": {
            **PARQUET_SD,
            "Columns": [{"Name": f.name, "Type": glue_type(f.type)} for f in schema],
            "Location": f"{store.s3_root.rstrip('/')}/{view}/",
        },
    }
    with contextlib.suppress(glue.exceptions.AlreadyExistsException):
        glue.create_table(DatabaseName=store.database, TableInput=table)


def register_partition(store: AthenaOfflineStore, view: str, partition: str) -> str:
    """Make ``ds=<partition>`` of ``view`` visible to Athena: ``projected``, ``created`` or ``updated``."""
    glue = glue_client(store)
    table = glue.get_table(DatabaseName=store.database, Name=view)["Table"]
    if table.get("Parameters", {}).get("projection.enabled") == "true":
        return "projected"
    descriptor = {
        **table["StorageDescriptor"],
        "Location": f"{store.s3_root.rstrip('/')}/{partition_dir(view, partition)}/",
    }
    partition_input = {"Values": [partition], "StorageDescriptor": descriptor}
    try:
        glue.create_partition(DatabaseName=store.database, TableName=view, PartitionInput=partition_input)
        return "created"
    except glue.exceptions.AlreadyExistsException:
        glue.update_partition(
            DatabaseName=store.database,
            TableName=view,
            PartitionValueList=[partition],
            PartitionInput=partition_input,
        )
        return "updated"
