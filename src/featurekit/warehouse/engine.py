"""The interface of the warehouse kind: one Athena-dialect SELECT in, one Arrow table out.

Each engine lives in its own module (``duckdb``, ``athena``) and imports only this one; ``engines.engine_for``
picks the engine for the configured warehouse, so no engine module imports another.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from featurekit.errors import FeaturekitError

if TYPE_CHECKING:
    import pyarrow as pa


class WarehouseQueryError(FeaturekitError, RuntimeError):
    """The warehouse rejected or failed a query; the message carries the engine's reason."""


class WarehouseEngine(Protocol):
    """Runs one Athena-dialect SELECT and returns its result as an Arrow table."""

    def query_arrow(self, athena_sql: str) -> pa.Table: ...
