"""The DuckDB warehouse engine: the embedded warehouse file, queried with the Athena SQL transpiled by sqlglot.

The same query file runs on a laptop and in Athena; the file is opened read-only so pipelines never modify raw data.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import sqlglot

from featurekit import duckdb_utc
from featurekit.warehouse.engine import WarehouseQueryError


class DuckDBEngine:
    """The embedded warehouse: a DuckDB file, queried read-only so pipelines never modify raw data."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def query_arrow(self, athena_sql: str) -> pa.Table:
        if not self.path.is_file():
            raise WarehouseQueryError(f"warehouse {self.path} does not exist: run `featurekit warehouse generate`")
        duck_sql = sqlglot.transpile(athena_sql, read="athena", write="duckdb")[0]
        try:
            with duckdb_utc.connect(self.path, read_only=True) as con:
                return con.sql(duck_sql).to_arrow_table()
        except duckdb.Error as exc:
            raise WarehouseQueryError(f"{type(exc).__name__}: {exc}") from exc
