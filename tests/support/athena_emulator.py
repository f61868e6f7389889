"""Athena without AWS: moto serves S3 and Glue; a small HTTP front implements Athena's query API and hands each
submitted statement to :class:`support.athena_executor.AthenaExecutor`, which runs it in DuckDB over the parquet
objects in moto's S3. This module is the front (lifecycle, HTTP relay, the API's JSON); the executor is the engine.

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
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq

from featurekit.services.ports import free_port, wait_for_port
from support.athena_executor import AthenaExecutor, Execution, QueryFailed, glue_type, split_location

REGION = "us-east-1"


class AthenaEmulator:
    """Start with :meth:`start`; ``env`` holds the variables clients need; :meth:`stop` shuts everything down."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.moto_port = free_port()
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.moto_port, verbose=False)
        self.executions: dict[str, Execution] = {}
        self.workgroups: dict[str, str] = {}
        self.executor = AthenaExecutor(self.client)
        self.unparseable = self.executor.unparseable  # the same list: statements that are not Athena SQL
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
        bucket, prefix = split_location(location)
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
            execution.result = self.executor.run(execution)
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
