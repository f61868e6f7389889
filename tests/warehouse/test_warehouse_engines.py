"""The warehouse kind: one engine module per backend, chosen by the type of ``settings.warehouse``."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from featurekit.config.settings import AthenaWarehouse, DuckDBWarehouse
from featurekit.warehouse.athena import AthenaEngine
from featurekit.warehouse.duckdb import DuckDBEngine
from featurekit.warehouse.engines import WarehouseQueryError, engine_for
from featurekit.warehouse.load import load_duckdb


class _Tables:
    def tables(self) -> dict[str, pa.Table]:
        return {"users": pa.table({"user_id": [1, 2, 3], "score": [0.5, 1.5, 2.5]})}


def test_duckdb_engine_runs_athena_sql_on_the_local_file(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    assert load_duckdb(_Tables(), path) == {"users": 3}
    engine = engine_for(DuckDBWarehouse(path=path))
    assert isinstance(engine, DuckDBEngine)
    # Athena's dialect (approx_distinct, double quotes) is transpiled for DuckDB.
    result = engine.query_arrow('SELECT approx_distinct("user_id") AS n, sum(score) AS s FROM users')
    assert result.to_pylist() == [{"n": 3, "s": 4.5}]


def test_duckdb_engine_failures_are_warehouse_query_errors(tmp_path: Path) -> None:
    with pytest.raises(WarehouseQueryError, match=r"does not exist: run `featurekit warehouse generate`"):
        engine_for(DuckDBWarehouse(path=tmp_path / "none.duckdb")).query_arrow("SELECT 1")
    path = tmp_path / "warehouse.duckdb"
    load_duckdb(_Tables(), path)
    with pytest.raises(WarehouseQueryError, match=r"CatalogException.*missing_table"):
        engine_for(DuckDBWarehouse(path=path)).query_arrow("SELECT * FROM missing_table")


def test_athena_warehouse_gets_the_athena_engine() -> None:
    warehouse = AthenaWarehouse(database="d", workgroup="w", results_location="s3://b/r", region="eu-west-1")
    engine = engine_for(warehouse)
    assert isinstance(engine, AthenaEngine) and engine.warehouse is warehouse
    assert engine.unload_statement("SELECT 1", "s3://b/r/unload/x/") == (
        "UNLOAD (SELECT 1) TO 's3://b/r/unload/x/' WITH (format = 'PARQUET', compression = 'ZSTD')"
    )


def test_an_unknown_warehouse_block_is_refused() -> None:
    with pytest.raises(TypeError, match=r"no warehouse engine for str"):
        engine_for("duckdb")  # type: ignore[arg-type]
