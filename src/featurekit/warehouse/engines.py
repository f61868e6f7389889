"""Warehouse engines: run an Athena-dialect query on the configured warehouse and return Arrow.

The engine is chosen by the type of ``settings.warehouse`` (``duckdb`` locally, ``athena`` on AWS); callers never
look at the environment. The DuckDB engine transpiles the Athena SQL with sqlglot, so the same query file runs on
a laptop and in Athena.
"""

from __future__ import annotations

from functools import singledispatch
from pathlib import Path
from typing import Protocol

import duckdb
import pyarrow as pa
import sqlglot

from featurekit import duckdb_utc
from featurekit.config.settings import DuckDBWarehouse


class WarehouseQueryError(RuntimeError):
    """The warehouse rejected or failed a query; the message carries the engine's reason."""


class WarehouseEngine(Protocol):
    """Runs one Athena-dialect SELECT and returns its result as an Arrow table."""

    def query_arrow(self, athena_sql: str) -> pa.Table: ...


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


@singledispatch
def engine_for(warehouse: object) -> WarehouseEngine:
    """The engine for a warehouse settings block."""
    raise TypeError(f"no warehouse engine for {type(warehouse).__name__}")


@engine_for.register
def _(warehouse: DuckDBWarehouse) -> WarehouseEngine:
    return DuckDBEngine(warehouse.path)


# The Athena engine registers itself on import (pyathena is only needed where it is used).
import featurekit.warehouse.athena  # noqa: E402, F401
