"""DuckDB connections in UTC, whatever the host's time zone.

DuckDB starts each connection in the host's zone (``TZ``), and that zone decides how naive timestamps compare with
aware ones, how ``from_iso8601_timestamp``/``CAST(... AS TIMESTAMPTZ)`` read a value without an offset, and how
``TIMESTAMPTZ`` columns come back to Arrow. The warehouse, the offline store and Feast all store naive UTC, so on a
machine east or west of UTC every one of those would shift rows by the host's offset. Every DuckDB connection the
kit (and its tests) opens goes through :func:`connect`, so results never depend on where the process runs.

The zone is set with ``SET`` after connecting: passing it in ``config=`` fails, because the built-in ICU extension
that defines the setting loads only after the configuration is parsed.
"""

from __future__ import annotations

from pathlib import Path

import duckdb


def connect(database: str | Path = ":memory:", *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection (``database`` path or in-memory) whose session time zone is UTC."""
    con = duckdb.connect(str(database), read_only=read_only)
    try:
        con.execute("SET TimeZone = 'UTC'")
    except Exception:
        con.close()
        raise
    return con
