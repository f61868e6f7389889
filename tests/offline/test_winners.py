"""The point-in-time join's second phase read straight from parquet (featurekit.offline.winners): the values of
the winning rows, by location, in input order, exactly as DuckDB's join-back returns them; and the cases it
leaves to DuckDB."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurekit.offline.winners import FILE_SHIFT, direct_read, in_input_order, read_winners

COLUMNS = ["a", "b", "c", "d"]


def _files(tmp_path: Path, sizes: list[int]) -> list[str]:
    """Parquet files of ``sizes`` rows in row groups of 7 (so winners span several groups): a nullable int64,
    a float32, a bool and an int32 column."""
    rng = np.random.default_rng(7)
    paths = []
    for i, n in enumerate(sizes):
        a = rng.integers(0, 1_000, n)
        table = pa.table(
            {
                "key": pa.array(np.arange(n), pa.int64()),
                "a": pa.array(a, mask=a % 5 == 0),  # some nulls
                "b": pa.array(rng.uniform(0, 1, n).astype(np.float32)),
                "c": pa.array(rng.integers(0, 2, n).astype(bool)),
                "d": pa.array(rng.integers(-50, 50, n).astype(np.int32)),
            }
        )
        path = tmp_path / f"part-{i}.parquet"
        pq.write_table(table, path, row_group_size=7)
        paths.append(str(path))
    return paths


def test_winners_read_directly_equal_duckdbs_join_back_across_row_groups_with_nulls(tmp_path: Path) -> None:
    files = _files(tmp_path, [30, 0, 45, 12])
    rows = 60
    rng = np.random.default_rng(3)
    entity = rng.permutation(rows)[:50]  # ten entity rows have no winner
    sizes = [30, 0, 45, 12]
    chosen = rng.choice([0, 2, 3], size=50)
    location = np.array([f * FILE_SHIFT + rng.integers(0, sizes[f]) for f in chosen], dtype=np.int64)
    winners = pa.table({"row": pa.array(entity, pa.int64()), "loc": pa.array(location)})

    read = direct_read(files, COLUMNS, [f"v__{c}" for c in COLUMNS])
    assert read is not None
    got = read_winners(read, winners, rows)

    listed = ", ".join(f"'{f}'" for f in files)
    with duckdb.connect() as con:
        con.register("winners", winners)
        expected = con.sql(
            f"""SELECT w.row, {", ".join(f"src.{c} AS v__{c}" for c in COLUMNS)}
                FROM winners AS w JOIN read_parquet([{listed}]) AS src
                  ON src.file_index = CAST(w.loc // {FILE_SHIFT} AS UBIGINT)
                 AND src.file_row_number = w.loc % {FILE_SHIFT}
                ORDER BY w.row"""
        ).to_arrow_table()
    by_row = dict(zip(expected.column("row").to_pylist(), range(expected.num_rows), strict=True))
    for c in COLUMNS:
        column = expected.column(f"v__{c}").to_pylist()
        want = [column[by_row[r]] if r in by_row else None for r in range(rows)]
        assert got[f"v__{c}"].to_pylist() == want, c
        assert got[f"v__{c}"].type == expected.schema.field(f"v__{c}").type, c
    assert got["v__a"].null_count > rows - 50  # the values' own nulls and the rows without a winner


def test_no_winners_gives_all_null_columns_of_the_right_type(tmp_path: Path) -> None:
    files = _files(tmp_path, [10])
    read = direct_read(files, ["a", "b"], ["a", "b"])
    assert read is not None
    winners = pa.table({"row": pa.array([], pa.int64()), "loc": pa.array([], pa.int64())})
    got = read_winners(read, winners, 4)
    assert got["a"].to_pylist() == [None] * 4 and got["a"].type == pa.int64()
    assert got["b"].type == pa.float32()


def test_anything_not_plain_and_uniform_is_left_to_duckdb(tmp_path: Path) -> None:
    files = _files(tmp_path, [5, 5])
    assert direct_read(files, COLUMNS, COLUMNS) is not None
    assert direct_read([], COLUMNS, COLUMNS) is None
    assert direct_read(None, COLUMNS, COLUMNS) is None
    assert direct_read(["s3://bucket/view/part.parquet"], COLUMNS, COLUMNS) is None
    assert direct_read(files, ["a", "missing"], ["a", "missing"]) is None
    strings = tmp_path / "strings.parquet"
    pq.write_table(pa.table({"a": pa.array(["x", "y"])}), strings)
    assert direct_read([str(strings)], ["a"], ["a"]) is None
    drifted = tmp_path / "drifted.parquet"  # "a" was int64, this file has int32: DuckDB unifies, so it decides
    pq.write_table(pa.table({"a": pa.array([1, 2], pa.int32())}), drifted)
    assert direct_read([files[0], str(drifted)], ["a"], ["a"]) is None
    stamps = tmp_path / "stamps.parquet"
    pq.write_table(pa.table({"a": pa.array([0], pa.timestamp("us", tz="UTC"))}), stamps)
    assert direct_read([str(stamps)], ["a"], ["a"]) is None


@pytest.mark.parametrize(
    "column",
    [
        pa.chunked_array([pa.array([1.5, 2.5]), pa.array([3.5])]),
        pa.chunked_array([pa.array([1, None, 3], pa.int16())]),
        pa.chunked_array([pa.array(["x", "y", None])]),
        pa.chunked_array([pa.array([[1], [], [2, 3]], pa.list_(pa.int64()))]),
    ],
    ids=["floats", "ints-with-nulls", "strings", "lists"],
)
def test_values_are_placed_in_input_order_with_nulls_for_rows_without_one(column: pa.ChunkedArray) -> None:
    positions = np.array([4, 0, 2])
    (placed,) = in_input_order([column], positions, 5)
    values = column.to_pylist()
    assert placed.to_pylist() == [values[1], None, values[2], None, values[0]]
    assert placed.type == column.type
