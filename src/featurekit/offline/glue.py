"""Glue catalog for the S3 offline store: tables per view and partition registration after each extract.

In the deployed environments Terraform creates the tables with partition projection on ``ds`` (Athena computes
partitions from the path template, nothing to register); :func:`register_partition` sees that and does nothing.
Without projection (a dev account, an older table) it creates the ``ds=<partition>`` partition, or updates it on a
rerun, so a new partition is queryable the moment its extract finishes.
"""

from __future__ import annotations

import contextlib
from functools import singledispatch
from typing import Any

import pyarrow as pa

from featurekit.config.settings import AthenaOfflineStore, ParquetOfflineStore
from featurekit.offline.layout import PARTITION_KEY, partition_dir

PARQUET_SD = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
}
_GLUE_TYPES = {pa.int64(): "bigint", pa.int32(): "int", pa.float64(): "double", pa.float32(): "float",
               pa.string(): "string", pa.bool_(): "boolean", pa.binary(): "binary"}  # fmt: skip


def glue_client(store: AthenaOfflineStore) -> Any:
    import boto3

    return boto3.client("glue", region_name=store.region)


def glue_type(arrow: pa.DataType) -> str:
    if pa.types.is_timestamp(arrow):
        return "timestamp"
    try:
        return _GLUE_TYPES[arrow]
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


@singledispatch
def publish_partition(store: object, view: str, partition: str) -> str:
    """Make a freshly written partition visible to the offline store's query engine."""
    raise TypeError(f"no partition publishing for {type(store).__name__}")


@publish_partition.register
def _(store: ParquetOfflineStore, view: str, partition: str) -> str:
    return "files"  # DuckDB globs the files: a written partition is visible already


@publish_partition.register
def _(store: AthenaOfflineStore, view: str, partition: str) -> str:
    return register_partition(store, view, partition)
