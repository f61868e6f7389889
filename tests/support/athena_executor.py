"""The Athena emulator's engine: one Athena statement executed in DuckDB over the parquet objects in moto's S3.

Tables resolve through the Glue catalog (a partitioned table reads only the partitions registered in Glue, unless it
uses partition projection); every statement must parse with sqlglot's ``athena`` dialect. It knows nothing of HTTP:
:mod:`support.athena_emulator` is the front that speaks Athena's API and hands each statement here.
"""

from __future__ import annotations

import io
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from featurekit import duckdb_utc

_UNLOAD = re.compile(r"^\s*UNLOAD\s*\((?P<query>.*)\)\s*TO\s*'(?P<target>s3://[^']+)'\s*WITH\s*\((?P<props>.*)\)\s*;?\s*$",
                     re.IGNORECASE | re.DOTALL)  # fmt: skip
_GLUE_TYPES = {
    pa.int64(): "bigint",
    pa.int32(): "int",
    pa.float64(): "double",
    pa.float32(): "float",
    pa.string(): "string",
    pa.bool_(): "boolean",
}


PATH_COLUMN = "$path"


class QueryFailed(Exception):
    """The statement failed as Athena would report it (``StateChangeReason``)."""


@dataclass
class Execution:
    id: str
    query: str
    database: str
    workgroup: str
    output: str
    state: str = "QUEUED"
    reason: str = ""
    statement_type: str = "DML"
    submitted: float = field(default_factory=time.time)
    completed: float | None = None
    result: pa.Table | None = None


def glue_type(arrow: pa.DataType) -> str:
    if pa.types.is_timestamp(arrow):
        return "timestamp"
    return _GLUE_TYPES.get(arrow, "string")


class AthenaExecutor:
    """Runs statements against the Glue catalog and S3 reached through ``client(service)`` (boto3 clients on moto).

    ``unparseable`` records every statement that is not valid Athena SQL (the test fixture asserts it stays empty).
    """

    def __init__(self, client: Callable[[str], Any]) -> None:
        self.client = client
        self.unparseable: list[tuple[str, str]] = []

    def _parse(self, sql: str) -> exp.Expression:
        try:
            parsed = sqlglot.parse_one(sql, read="athena", error_level=ErrorLevel.RAISE)
        except sqlglot.errors.ParseError as exc:
            self.unparseable.append((sql, str(exc)))
            raise QueryFailed(f"line 1:1: mismatched input (emulator: not valid Athena SQL: {exc})") from exc
        if isinstance(parsed, exp.Command):
            self.unparseable.append((sql, "parsed only as an opaque command"))
            raise QueryFailed(f"emulator: statement is not supported Athena SQL: {sql[:200]}")
        return parsed

    def run(self, e: Execution) -> pa.Table | None:
        unload = _UNLOAD.match(e.query)
        if unload:
            e.statement_type = "DML"
            props = _properties(unload.group("props"))
            if props.get("format", "").upper() != "PARQUET":
                raise QueryFailed(f"emulator: UNLOAD supports format 'PARQUET' only, got {props.get('format')!r}")
            result = self._select(self._parse(unload.group("query")), e.database)
            self._write_parquet(result, unload.group("target"), require_empty=True)
            return None
        tree = self._parse(e.query)
        if isinstance(tree, exp.Drop):
            e.statement_type = "DDL"
            self._drop(tree, e.database)
            return None
        if isinstance(tree, exp.Create):
            return self._create(tree, e)
        if isinstance(tree, exp.Query):
            return self._select(tree, e.database)
        raise QueryFailed(f"emulator: unsupported statement {type(tree).__name__}")

    def _table_id(self, table: exp.Table, database: str) -> tuple[str, str]:
        name = table.name
        db = table.db or database
        if "." in name and not table.db:  # `db.table` quoted as one identifier (Feast's DROP)
            db, name = name.split(".", 1)
        return db, name

    def _drop(self, tree: exp.Drop, database: str) -> None:
        target = tree.this or (tree.args.get("tables") or [None])[0]
        db, name = self._table_id(target, database)
        try:
            self.client("glue").delete_table(DatabaseName=db, Name=name)
        except self.client("glue").exceptions.EntityNotFoundException:
            if not tree.args.get("exists"):
                raise QueryFailed(f"Table {db}.{name} does not exist") from None

    def _create(self, tree: exp.Create, e: Execution) -> None:
        props = {
            (p.name.lower() if type(p) is exp.Property else type(p).__name__): p
            for p in (tree.args.get("properties") or exp.Properties(expressions=[])).expressions
        }
        schema = tree.this if isinstance(tree.this, exp.Schema) else None
        target = schema.this if schema else tree.this
        db, name = self._table_id(target, e.database)
        e.statement_type = "DDL"
        if tree.expression is not None:  # CTAS: CREATE TABLE t WITH (external_location = ...) AS SELECT
            location = _literal(props.get("external_location"))
            if not location:
                raise QueryFailed("emulator: CTAS needs external_location")
            result = self._select(tree.expression, e.database)
            self._write_parquet(result, location, require_empty=True)
            columns = [{"Name": f.name, "Type": glue_type(f.type)} for f in result.schema]
            e.statement_type = "DML"
        else:  # CREATE EXTERNAL TABLE t (cols) STORED AS PARQUET LOCATION '...'
            location_prop = next((p for p in props.values() if isinstance(p, exp.LocationProperty)), None)
            location = location_prop.this.name if location_prop else ""
            columns = [
                {"Name": c.name, "Type": c.args["kind"].sql(dialect="athena").lower()}
                for c in (schema.expressions if schema else [])
            ]
        self.client("glue").create_table(
            DatabaseName=db,
            TableInput={
                "Name": name,
                "TableType": "EXTERNAL_TABLE",
                "StorageDescriptor": {"Columns": columns, "Location": location},
            },
        )

    def _select(self, tree: exp.Expression, database: str) -> pa.Table:
        ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
        # Athena's "$path" pseudo-column (each row's S3 object): the tables get it only when the statement names it,
        # so a plain SELECT * returns the table's columns, as on Athena.
        with_path = any(column.name == PATH_COLUMN for column in tree.find_all(exp.Column))
        con = duckdb_utc.connect()
        try:
            for table in list(tree.find_all(exp.Table)):
                if not table.db and table.name in ctes:
                    continue
                db, name = self._table_id(table, database)
                alias = f"__{db}__{name}"
                con.register(alias, self._read_table(db, name, with_path))
                replacement = exp.to_table(alias)
                if table.alias:
                    replacement.set("alias", table.args["alias"])
                elif table.name != name or table.db:
                    replacement.set("alias", exp.TableAlias(this=exp.to_identifier(name)))
                table.replace(replacement)
            duck_sql = tree.sql(dialect="duckdb")
            return con.sql(duck_sql).to_arrow_table()
        finally:
            con.close()

    def _read_table(self, db: str, name: str, with_path: bool = False) -> pa.Table:
        glue = self.client("glue")
        try:
            meta = glue.get_table(DatabaseName=db, Name=name)["Table"]
        except glue.exceptions.EntityNotFoundException:
            raise QueryFailed(f"TABLE_NOT_FOUND: line 1:1: Table 'awsdatacatalog.{db}.{name}' does not exist") from None
        sd = meta["StorageDescriptor"]
        keys = [k["Name"] for k in meta.get("PartitionKeys", [])]
        if not keys:
            return self._read_parquet(sd["Location"], sd["Columns"], {}, with_path)
        if meta.get("Parameters", {}).get("projection.enabled") == "true":
            locations = self._projected(sd["Location"], keys)
        else:
            partitions = glue.get_partitions(DatabaseName=db, TableName=name).get("Partitions", [])
            locations = [(p["StorageDescriptor"]["Location"], dict(zip(keys, p["Values"], strict=True)))
                         for p in partitions]  # fmt: skip
        parts = [self._read_parquet(loc, sd["Columns"], values, with_path) for loc, values in locations]
        if not parts:
            path = [{"Name": PATH_COLUMN, "Type": "string"}] if with_path else []
            return self._empty(sd["Columns"] + [{"Name": k, "Type": "string"} for k in keys] + path)
        return pa.concat_tables(parts, promote_options="default")

    def _projected(self, location: str, keys: list[str]) -> list[tuple[str, dict[str, str]]]:
        bucket, prefix = split_location(location)
        pages = (
            self.client("s3")
            .get_paginator("list_objects_v2")
            .paginate(Bucket=bucket, Prefix=prefix.rstrip("/") + "/", Delimiter="/")
        )
        out = []
        for page in pages:
            for common in page.get("CommonPrefixes", []):
                leaf = common["Prefix"].rstrip("/").rsplit("/", 1)[-1]
                if "=" in leaf and leaf.split("=", 1)[0] == keys[0]:
                    out.append((f"s3://{bucket}/{common['Prefix']}", {keys[0]: leaf.split("=", 1)[1]}))
        return out

    def _read_parquet(
        self, location: str, columns: list[dict[str, str]], values: dict[str, str], with_path: bool = False
    ) -> pa.Table:
        bucket, prefix = split_location(location)
        s3 = self.client("s3")
        tables = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix.rstrip("/") + "/"):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                relative = key[len(prefix.rstrip("/")) + 1 :]
                hidden = relative.startswith(("_", ".")) or "/" in relative  # Athena skips these and subfolders
                if not relative or hidden or obj.get("Size", 0) == 0:  # folder markers are empty objects
                    continue
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                part = pq.read_table(pa.BufferReader(body))
                if with_path:
                    part = part.append_column(PATH_COLUMN, pa.array([f"s3://{bucket}/{key}"] * part.num_rows))
                tables.append(part)
        names = [c["Name"] for c in columns] + ([PATH_COLUMN] if with_path else [])
        if not tables:
            path = [{"Name": PATH_COLUMN, "Type": "string"}] if with_path else []
            return self._empty(columns + [{"Name": k, "Type": "string"} for k in values] + path)
        table = pa.concat_tables(tables, promote_options="default")
        table = table.select([n for n in names if n in table.column_names])
        # Athena reads parquet timestamps at millisecond precision.
        for i, column in enumerate(table.schema):
            if pa.types.is_timestamp(column.type):
                ms = pa.timestamp("ms", tz=column.type.tz)
                table = table.set_column(i, column.name, table.column(i).cast(ms, safe=False))
        for key, value in values.items():
            table = table.append_column(key, pa.array([value] * table.num_rows, pa.string()))
        return table

    @staticmethod
    def _empty(columns: list[dict[str, str]]) -> pa.Table:
        types = {"bigint": pa.int64(), "int": pa.int32(), "double": pa.float64(), "float": pa.float32(),
                 "boolean": pa.bool_(), "timestamp": pa.timestamp("us", tz="UTC")}  # fmt: skip
        return pa.schema([(c["Name"], types.get(c["Type"].lower(), pa.string())) for c in columns]).empty_table()

    def _write_parquet(self, table: pa.Table, location: str, *, require_empty: bool) -> None:
        bucket, prefix = split_location(location)
        s3 = self.client("s3")
        prefix = prefix.rstrip("/") + "/"
        if require_empty and s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("KeyCount", 0):
            raise QueryFailed(
                f"HIVE_PATH_ALREADY_EXISTS: Target directory for table or UNLOAD is not empty: {location}"
            )
        if table.num_rows == 0:  # like Athena: an empty result writes no file
            return
        sink = io.BytesIO()
        pq.write_table(table, sink)
        s3.put_object(Bucket=bucket, Key=f"{prefix}{uuid.uuid4().hex}", Body=sink.getvalue())


def split_location(location: str) -> tuple[str, str]:
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    return bucket, prefix


def _properties(text: str) -> dict[str, str]:
    return {k.lower(): v for k, v in re.findall(r"(\w+)\s*=\s*'([^']*)'", text)}


def _literal(node: Any) -> str:
    if node is None:
        return ""
    value = node.args.get("value") if isinstance(node, exp.Property) else node
    return value.name if isinstance(value, exp.Expression) else str(value)
