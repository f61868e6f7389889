"""Athena without AWS: moto serves S3 and Glue; a small HTTP front implements Athena's query API by executing
each submitted statement in DuckDB over the parquet objects in moto's S3.

Clients are not modified: boto3, pyathena, pyarrow's S3 filesystem and Feast's Athena offline store reach it through
the standard ``AWS_ENDPOINT_URL``. The front answers Athena's JSON API (``X-Amz-Target: AmazonAthena.*``) itself and
relays every other request (S3, Glue) to moto byte for byte.

What it does like Athena:
* every statement must parse with sqlglot's ``athena`` dialect (``error_level=RAISE``); one that does not FAILS
  and is recorded in :attr:`AthenaEmulator.unparseable` (the test fixture asserts that list stays empty);
* tables resolve through the Glue catalog (``catalog.database.table``, the session database by default); a
  partitioned table reads only partitions registered in Glue, unless the table uses partition projection;
* ``SELECT`` (results via ``GetQueryResults``, paginated), ``UNLOAD (...) TO 's3://...' WITH (format='PARQUET')``,
  ``CREATE EXTERNAL TABLE ... LOCATION``, ``CREATE TABLE ... WITH (external_location=...) AS SELECT`` (CTAS),
  ``DROP TABLE [IF EXISTS]``; workgroups must exist; failed queries report ``StateChangeReason``.

Where it differs from real Athena is listed in ``docs/batch.md``.
"""

from __future__ import annotations

import http.client
import io
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from featurekit import duckdb_utc
from featurekit.services.ports import free_port, wait_for_port

REGION = "us-east-1"
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


class AthenaEmulator:
    """Start with :meth:`start`; ``env`` holds the variables clients need; :meth:`stop` shuts everything down."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.moto_port = free_port()
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.moto_port, verbose=False)
        self.executions: dict[str, Execution] = {}
        self.workgroups: dict[str, str] = {}
        self.unparseable: list[tuple[str, str]] = []
        self.statements: list[str] = []
        self._lock = threading.Lock()
        self.front: ThreadingHTTPServer | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> AthenaEmulator:
        self.moto.start()
        if not wait_for_port("127.0.0.1", self.moto_port, 20):
            raise RuntimeError("moto server did not start")
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            """Athena JSON API here; every other request (S3, Glue, STS) is relayed to moto unchanged."""

            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while (size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)) > 0:
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    self.rfile.readline()
                    return b"".join(chunks)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _handle(self) -> None:
                body = self._body() if self.command not in ("GET", "HEAD") else b""
                target = self.headers.get("X-Amz-Target", "")
                if target.startswith("AmazonAthena."):
                    status, payload = emulator.handle(target.split(".")[-1], json.loads(body or b"{}"))
                    data = json.dumps(payload).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/x-amz-json-1.1")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                self._relay(body)

            def _relay(self, body: bytes) -> None:
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("transfer-encoding", "connection")
                }
                headers["Content-Length"] = str(len(body))
                upstream = http.client.HTTPConnection("127.0.0.1", emulator.moto_port, timeout=60)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    data = response.read()
                    self.send_response(response.status, response.reason)
                    for key, value in response.getheaders():
                        if key.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                            self.send_header(key, value)
                    declared = response.getheader("Content-Length")
                    self.send_header(
                        "Content-Length", declared if self.command == "HEAD" and declared else str(len(data))
                    )
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                finally:
                    upstream.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self.front = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.front.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.front:
            self.front.shutdown()
            self.front.server_close()
        self.moto.stop()

    @property
    def moto_url(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

    @property
    def athena_url(self) -> str:
        assert self.front is not None
        return f"http://127.0.0.1:{self.front.server_address[1]}"

    @property
    def env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": self.athena_url,  # the front: Athena here, everything else relayed to moto
        }

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.moto_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    # -- setup helpers ---------------------------------------------------------------------------------------
    def add_workgroup(self, name: str, output_location: str) -> None:
        self.workgroups[name] = output_location.rstrip("/") + "/"

    def create_bucket(self, bucket: str) -> None:
        self.client("s3").create_bucket(Bucket=bucket)

    def create_database(self, name: str) -> None:
        self.client("glue").create_database(DatabaseInput={"Name": name})

    def put_table(self, database: str, name: str, table: pa.Table, location: str) -> None:
        """Upload ``table`` as one parquet object under ``location`` and register it in Glue (warehouse tables)."""
        bucket, prefix = _split(location)
        sink = io.BytesIO()
        pq.write_table(table, sink)
        self.client("s3").put_object(Bucket=bucket, Key=f"{prefix.rstrip('/')}/part-0.parquet", Body=sink.getvalue())
        columns = [{"Name": f.name, "Type": glue_type(f.type)} for f in table.schema]
        self.client("glue").create_table(
            DatabaseName=database,
            TableInput={
                "Name": name,
                "TableType": "EXTERNAL_TABLE",
                "StorageDescriptor": {"Columns": columns, "Location": location},
            },
        )

    # -- Athena API ------------------------------------------------------------------------------------------
    def handle(self, operation: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        try:
            if operation == "StartQueryExecution":
                return 200, {"QueryExecutionId": self.start_query(request)}
            if operation == "GetQueryExecution":
                return 200, {"QueryExecution": self._describe(self._execution(request))}
            if operation == "BatchGetQueryExecution":
                ids = request.get("QueryExecutionIds", [])
                return 200, {
                    "QueryExecutions": [self._describe(self.executions[i]) for i in ids if i in self.executions]
                }
            if operation == "GetQueryResults":
                return 200, self._results(self._execution(request), request)
            if operation == "StopQueryExecution":
                return 200, {}
            if operation == "GetWorkGroup":
                name = request["WorkGroup"]
                if name not in self.workgroups:
                    raise KeyError(f"WorkGroup {name} is not found.")
                return 200, {"WorkGroup": {"Name": name, "State": "ENABLED", "Configuration": {
                    "ResultConfiguration": {"OutputLocation": self.workgroups[name]}}}}  # fmt: skip
            return 400, {"__type": "InvalidRequestException", "Message": f"emulator: {operation} is not implemented"}
        except KeyError as exc:
            return 400, {"__type": "InvalidRequestException", "Message": str(exc).strip("'\"")}

    def start_query(self, request: dict[str, Any]) -> str:
        workgroup = request.get("WorkGroup", "primary")
        if workgroup not in self.workgroups:
            raise KeyError(f"WorkGroup {workgroup} is not found.")
        output = (request.get("ResultConfiguration") or {}).get("OutputLocation") or self.workgroups[workgroup]
        context = request.get("QueryExecutionContext") or {}
        execution = Execution(
            id=str(uuid.uuid4()),
            query=request["QueryString"],
            database=context.get("Database", "default"),
            workgroup=workgroup,
            output=output.rstrip("/") + "/",
        )
        with self._lock:
            self.executions[execution.id] = execution
            self.statements.append(execution.query)
        execution.state = "RUNNING"
        try:
            execution.result = self._run(execution)
            execution.state = "SUCCEEDED"
        except QueryFailed as exc:
            execution.state, execution.reason = "FAILED", str(exc)
        except Exception as exc:  # anything else is reported as the query's failure, as Athena would
            execution.state, execution.reason = "FAILED", f"{type(exc).__name__}: {exc}"
        execution.completed = time.time()
        return execution.id

    def _execution(self, request: dict[str, Any]) -> Execution:
        try:
            return self.executions[request["QueryExecutionId"]]
        except KeyError:
            raise KeyError(f"QueryExecution {request.get('QueryExecutionId')} was not found") from None

    def _describe(self, e: Execution) -> dict[str, Any]:
        status: dict[str, Any] = {"State": e.state, "SubmissionDateTime": e.submitted}
        if e.completed:
            status["CompletionDateTime"] = e.completed
        if e.reason:
            status["StateChangeReason"] = e.reason
        return {
            "QueryExecutionId": e.id,
            "Query": e.query,
            "StatementType": e.statement_type,
            "ResultConfiguration": {"OutputLocation": f"{e.output}{e.id}.csv"},
            "QueryExecutionContext": {"Database": e.database, "Catalog": "AwsDataCatalog"},
            "Status": status,
            "Statistics": {"EngineExecutionTimeInMillis": 1, "DataScannedInBytes": 0, "TotalExecutionTimeInMillis": 1},
            "WorkGroup": e.workgroup,
            "EngineVersion": {"SelectedEngineVersion": "Athena engine version 3"},
        }

    def _results(self, e: Execution, request: dict[str, Any]) -> dict[str, Any]:
        if e.state != "SUCCEEDED":
            raise KeyError(f"Query has not yet finished. Current state: {e.state}")
        table = e.result if e.result is not None else pa.table({})
        start = int(request.get("NextToken") or 0)
        size = int(request.get("MaxResults") or 1000)
        header = [] if start else [{"Data": [{"VarCharValue": n} for n in table.column_names]}]
        rows = header + [
            {"Data": [{} if v is None else {"VarCharValue": _athena_text(v)} for v in row.values()]}
            for row in table.slice(start, size - len(header)).to_pylist()
        ]
        consumed = start + size - len(header)
        response: dict[str, Any] = {
            "UpdateCount": 0,
            "ResultSet": {
                "Rows": rows,
                "ResultSetMetadata": {
                    "ColumnInfo": [
                        {
                            "CatalogName": "hive",
                            "SchemaName": "",
                            "TableName": "",
                            "Name": f.name,
                            "Label": f.name,
                            "Type": _athena_type(f.type),
                            "Precision": 0,
                            "Scale": 0,
                            "Nullable": "UNKNOWN",
                            "CaseSensitive": False,
                        }
                        for f in table.schema
                    ]
                },
            },
        }
        if consumed < table.num_rows:
            response["NextToken"] = str(consumed)
        return response

    # -- execution -------------------------------------------------------------------------------------------
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

    def _run(self, e: Execution) -> pa.Table | None:
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
        con = duckdb_utc.connect()
        try:
            for table in list(tree.find_all(exp.Table)):
                if not table.db and table.name in ctes:
                    continue
                db, name = self._table_id(table, database)
                alias = f"__{db}__{name}"
                con.register(alias, self._read_table(db, name))
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

    def _read_table(self, db: str, name: str) -> pa.Table:
        glue = self.client("glue")
        try:
            meta = glue.get_table(DatabaseName=db, Name=name)["Table"]
        except glue.exceptions.EntityNotFoundException:
            raise QueryFailed(f"TABLE_NOT_FOUND: line 1:1: Table 'awsdatacatalog.{db}.{name}' does not exist") from None
        sd = meta["StorageDescriptor"]
        keys = [k["Name"] for k in meta.get("PartitionKeys", [])]
        if not keys:
            return self._read_parquet(sd["Location"], sd["Columns"], {})
        if meta.get("Parameters", {}).get("projection.enabled") == "true":
            locations = self._projected(sd["Location"], keys)
        else:
            partitions = glue.get_partitions(DatabaseName=db, TableName=name).get("Partitions", [])
            locations = [(p["StorageDescriptor"]["Location"], dict(zip(keys, p["Values"], strict=True)))
                         for p in partitions]  # fmt: skip
        parts = [self._read_parquet(loc, sd["Columns"], values) for loc, values in locations]
        if not parts:
            return self._empty(sd["Columns"] + [{"Name": k, "Type": "string"} for k in keys])
        return pa.concat_tables(parts, promote_options="default")

    def _projected(self, location: str, keys: list[str]) -> list[tuple[str, dict[str, str]]]:
        bucket, prefix = _split(location)
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

    def _read_parquet(self, location: str, columns: list[dict[str, str]], values: dict[str, str]) -> pa.Table:
        bucket, prefix = _split(location)
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
                tables.append(pq.read_table(pa.BufferReader(body)))
        names = [c["Name"] for c in columns]
        if not tables:
            return self._empty(columns + [{"Name": k, "Type": "string"} for k in values])
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
        bucket, prefix = _split(location)
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


def _split(location: str) -> tuple[str, str]:
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    return bucket, prefix


def _properties(text: str) -> dict[str, str]:
    return {k.lower(): v for k, v in re.findall(r"(\w+)\s*=\s*'([^']*)'", text)}


def _literal(node: Any) -> str:
    if node is None:
        return ""
    value = node.args.get("value") if isinstance(node, exp.Property) else node
    return value.name if isinstance(value, exp.Expression) else str(value)


def _athena_text(value: Any) -> str:
    if hasattr(value, "isoformat") and hasattr(value, "hour"):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _athena_type(arrow: pa.DataType) -> str:
    if pa.types.is_timestamp(arrow):
        return "timestamp"
    return {"bigint": "bigint", "int": "integer", "double": "double", "float": "float", "boolean": "boolean"}.get(
        glue_type(arrow), "varchar"
    )
