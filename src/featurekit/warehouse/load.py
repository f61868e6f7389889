"""Load the synthetic warehouse into the local DuckDB file."""

from __future__ import annotations

from pathlib import Path

from featurekit import duckdb_utc
from featurekit.warehouse.generate import Warehouse


def load_duckdb(warehouse: Warehouse, path: Path) -> dict[str, int]:
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
