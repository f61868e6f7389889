"""The engine for the configured warehouse: ``duckdb`` locally, ``athena`` on AWS.

Callers never look at the environment: they ask :func:`engine_for` with ``settings.warehouse``. The engines
themselves live in ``featurekit.warehouse.duckdb`` and ``featurekit.warehouse.athena`` behind
:class:`~featurekit.warehouse.engine.WarehouseEngine`.
"""

from __future__ import annotations

from featurekit.config.settings import AthenaWarehouse, DuckDBWarehouse
from featurekit.warehouse.athena import AthenaEngine
from featurekit.warehouse.duckdb import DuckDBEngine
from featurekit.warehouse.engine import WarehouseEngine, WarehouseQueryError

__all__ = ["WarehouseEngine", "WarehouseQueryError", "engine_for"]


def engine_for(warehouse: DuckDBWarehouse | AthenaWarehouse) -> WarehouseEngine:
    """The engine for a warehouse settings block."""
    if isinstance(warehouse, DuckDBWarehouse):
        return DuckDBEngine(warehouse.path)
    if isinstance(warehouse, AthenaWarehouse):
        return AthenaEngine(warehouse)
    raise TypeError(f"no warehouse engine for {type(warehouse).__name__}")
