"""The second phase of the point-in-time join, read straight from parquet: the winning rows' feature values.

The first phase (DuckDB, :mod:`featurekit.offline.retrieval`) names each entity row's winning feature row by its
location in the scan: file index and row number in that file. DuckDB's own second phase is a hash join of those
winners against a full scan of the feature columns: at 1M x 10M the join and handing its result to Arrow cost about
a third of the query's CPU (``featurekit bench batch``, ``docs/performance.md``), for rows whose positions are
already known. Here each parquet row group that holds winners is decoded once (pyarrow, two at a time) and the
winners are taken from it by position; the values are then put in the entity rows' input order.

Used only where the answer is the same by construction (:func:`direct_read`): local parquet files and feature
columns of one fixed-width numeric or boolean type in every file, which DuckDB would return unchanged. Anything
else (strings, nested types, a column whose type changed between files, remote paths) keeps DuckDB's second phase.
Memory stays bounded by a row group per worker plus the result, as with DuckDB's streaming scan.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

FILE_SHIFT = 2**40  # a feature row's location: file index * FILE_SHIFT + row number in that file
_WORKERS = 2  # decode threads; a fresh pool per call (a pool inherited across fork() never runs its work)


@dataclass(frozen=True)
class DirectRead:
    """Where a view's winning rows can be read from directly: the files (in the scan's order, so a location's file
    index means the same file), their footers, the source columns and the names they come back under."""

    files: list[str]
    footers: list[pq.FileMetaData]
    columns: list[str]
    names: list[str]


def _plain(kind: pa.DataType) -> bool:
    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind))


def direct_read(files: Sequence[str] | None, columns: list[str], names: list[str]) -> DirectRead | None:
    """A :class:`DirectRead` when every file is a local parquet file holding every column with one plain type
    (integer, float, boolean) across all files; None otherwise (the caller keeps DuckDB's second phase)."""
    if not files or any("://" in path for path in files):
        return None
    footers: list[pq.FileMetaData] = []
    kinds: list[pa.DataType] | None = None
    for path in files:
        try:
            footer = pq.read_metadata(path)
            schema = footer.schema.to_arrow_schema()
        except (OSError, pa.ArrowException):
            return None  # DuckDB reports an unreadable file with its own error
        found = [schema.field(c).type if schema.get_field_index(c) >= 0 else None for c in columns]
        if any(kind is None or not _plain(kind) for kind in found):
            return None
        if kinds is None:
            kinds = found  # type: ignore[assignment]
        elif found != kinds:
            return None  # DuckDB would unify the types across files (union_by_name)
        footers.append(footer)
    return DirectRead(list(files), footers, columns, names)


def read_winners(read: DirectRead, winners: pa.Table, rows: int) -> dict[str, pa.Array]:
    """``winners`` (entity row, location) -> each feature column as ``rows`` values in input order, null where an
    entity row has no winner."""
    entity = winners.column(0).to_numpy()
    location = winners.column(1).to_numpy()
    order = np.argsort(location, kind="stable")  # by file, then row: each row group's winners in one slice
    entity, location = entity[order], location[order]
    file_of, row_of = location // FILE_SHIFT, location % FILE_SHIFT
    tasks: list[tuple[int, int, int, int, int]] = []  # file, row group, first row, winners slice
    for i, footer in enumerate(read.footers):
        start = int(np.searchsorted(file_of, i))
        stop = int(np.searchsorted(file_of, i, side="right"))
        first = 0
        for group in range(footer.num_row_groups):
            last = first + footer.row_group(group).num_rows
            lo = start + int(np.searchsorted(row_of[start:stop], first))
            hi = start + int(np.searchsorted(row_of[start:stop], last))
            if hi > lo:
                tasks.append((i, group, first, lo, hi))
            first = last

    def decode(task: tuple[int, int, int, int, int]) -> pa.Table:
        i, group, first, lo, hi = task
        table = pq.ParquetFile(read.files[i], metadata=read.footers[i]).read_row_group(
            group, columns=read.columns, use_threads=False
        )
        return table.take(pa.array(row_of[lo:hi] - first))

    with ThreadPoolExecutor(_WORKERS) as pool:
        pieces = list(pool.map(decode, tasks))
        if pieces:
            values = pa.concat_tables(pieces)
        else:
            empty = read.footers[0].schema.to_arrow_schema()
            values = pa.table({c: pa.array([], type=empty.field(c).type) for c in read.columns})
        placed = in_input_order([values.column(c) for c in read.columns], entity, rows, pool)
    return dict(zip(read.names, placed, strict=True))


def joined_in_input_order(joined: pa.Table, rows: int) -> dict[str, Any]:
    """DuckDB's second phase answered ``(entity row, features...)``: the feature columns in input order."""
    names = joined.column_names[1:]
    with ThreadPoolExecutor(_WORKERS) as pool:
        placed = in_input_order([joined.column(n) for n in names], joined.column(0).to_numpy(), rows, pool)
    return dict(zip(names, placed, strict=True))


def in_input_order(
    columns: list[pa.ChunkedArray], positions: np.ndarray, rows: int, pool: ThreadPoolExecutor | None = None
) -> list[Any]:
    """``column[k]`` belongs to entity row ``positions[k]``: each column ``rows`` long in input order, null where
    no value belongs. Plain numbers without nulls are scattered with numpy, which releases the GIL, so columns are
    placed in parallel on ``pool`` (~3x an Arrow ``take`` at 1M rows); anything else goes through ``take``."""
    missing: np.ndarray | None = None
    if len(positions) < rows:
        missing = np.ones(rows, dtype=bool)
        missing[positions] = False
    scatter = [_scatterable(column) for column in columns]
    take: pa.Array | None = None
    if not all(scatter):
        index = np.full(rows, -1, dtype=np.int64)
        index[positions] = np.arange(len(positions), dtype=np.int64)
        take = pa.array(index, mask=index < 0)

    def place(k: int) -> Any:
        column = columns[k]
        if not scatter[k]:
            return column.take(take)
        values = column.to_numpy()
        out = np.zeros(rows, dtype=values.dtype)
        out[positions] = values
        return pa.array(out, mask=missing, type=column.type)

    if pool is None or len(columns) < 2:
        return [place(k) for k in range(len(columns))]
    return list(pool.map(place, range(len(columns))))


def _scatterable(column: pa.ChunkedArray) -> bool:
    kind = column.type
    return bool((pa.types.is_integer(kind) or pa.types.is_floating(kind)) and column.null_count == 0)


__all__ = ["FILE_SHIFT", "DirectRead", "direct_read", "in_input_order", "joined_in_input_order", "read_winners"]
