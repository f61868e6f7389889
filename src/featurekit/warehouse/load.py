"""Load a warehouse (named Arrow tables, e.g. the example's synthetic one) into the local DuckDB file."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import pyarrow as pa

from featurekit import duckdb_utc


class Tables(Protocol):
    def tables(self) -> dict[str, pa.Table]: ...


def load_duckdb(warehouse: Tables, path: Path) -> dict[str, int]:
    """Replace the warehouse tables in the DuckDB file at ``path``; returns row counts per table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    counts = {}
    with duckdb_utc.connect(path) as con:
        for name, table in warehouse.tables().items():
            con.register("incoming", table)
            con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM incoming")
            con.unregister("incoming")
            counts[name] = table.num_rows
    return counts
