"""One DuckDB database per process for training-data retrieval, a fresh cursor per retrieval.

Opening and closing an in-memory DuckDB database costs ~20-30 ms of CPU per retrieval (about a tenth of a 100k x 1M
point-in-time join, ``docs/performance.md``), so the kit's offline store keeps one database per
``(memory_limit, temp_directory)`` and hands each retrieval its own cursor. A DuckDB cursor is a separate connection
to the same database: its temporary tables and registered Arrow views are its own, so concurrent retrievals in
different threads never see each other's entity rows, and closing it drops them. What the cursors share is what
should be shared: the database-wide settings (the memory cap and the spill directory, applied once when the
database is opened) and the thread pool.

Session settings do not carry from a database's first connection to its cursors (DuckDB starts each in the host's
time zone), so every cursor is set to UTC here, as :func:`featurekit.duckdb_utc.connect` does for a connection.
A DuckDB instance does not survive ``fork``: a child that uses, closes or even garbage-collects its parent's copy
crashes (SIGSEGV, measured). So the databases are dropped in the parent just before any fork (a running
retrieval keeps its cursor, which holds the instance, until it ends), and the child (Airflow's task runner,
multiprocessing) opens its own on its first retrieval. Entries keyed by another process id, should one ever be
inherited, are parked and never touched.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from featurekit import duckdb_utc
from featurekit.offline.pit_sql import literal

_lock = threading.Lock()
_databases: dict[tuple[int, str | None, str], duckdb.DuckDBPyConnection] = {}
_inherited: list[duckdb.DuckDBPyConnection] = []  # another process's databases: never used, closed or freed here


def _drop_before_fork() -> None:
    with _lock:
        _databases.clear()


os.register_at_fork(before=_drop_before_fork)


def spill_directory(temp_directory: str | None) -> str:
    """Where DuckDB spills a join past its memory cap: the configured directory or one under the system temp dir."""
    return temp_directory or str(Path(tempfile.gettempdir()) / "featurekit-duckdb-spill")


@contextmanager
def retrieval_cursor(memory_limit: str | None, temp_directory: str | None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A UTC cursor on this process's database for these settings; closed (its temp tables dropped) on exit."""
    spill = spill_directory(temp_directory)
    key = (os.getpid(), memory_limit, spill)
    with _lock:
        database = _databases.get(key)
        if database is None:
            for stale in [k for k in _databases if k[0] != key[0]]:
                _inherited.append(_databases.pop(stale))  # a parent's: freeing it here would crash
            database = _open(memory_limit, spill)
            _databases[key] = database
        cursor = database.cursor()
    try:
        cursor.execute("SET TimeZone = 'UTC'")
        yield cursor
    finally:
        cursor.close()


def _open(memory_limit: str | None, spill: str) -> duckdb.DuckDBPyConnection:
    """An in-memory database with the memory cap and the spill directory (a join past the cap spills, not fails)."""
    database = duckdb_utc.connect()
    try:
        for name, value in (("memory_limit", memory_limit), ("temp_directory", spill)):
            if value:
                try:
                    database.execute(f"SET {name} = {literal(value)}")
                except duckdb.Error as exc:
                    raise ValueError(f"offline_store.{name} = {value!r} is not usable by DuckDB: {exc}") from exc
    except Exception:
        database.close()
        raise
    return database
