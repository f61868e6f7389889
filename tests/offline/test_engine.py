"""The retrieval engine: one DuckDB database per process and settings, a private UTC cursor per retrieval."""

from __future__ import annotations

import multiprocessing
import threading

import duckdb
import pytest

from featurekit.offline import engine


def _setting(cursor: duckdb.DuckDBPyConnection, name: str) -> str:
    return str(cursor.execute(f"SELECT current_setting('{name}')").fetchall()[0][0])


def test_cursors_share_one_database_per_settings_and_are_utc(tmp_path) -> None:
    spill = str(tmp_path / "spill")
    with engine.retrieval_cursor("300MB", spill) as first:
        first_limit, first_zone = _setting(first, "memory_limit"), _setting(first, "TimeZone")
    with engine.retrieval_cursor("300MB", spill) as second:
        assert _setting(second, "memory_limit") == first_limit
        assert _setting(second, "temp_directory") == spill
    with engine.retrieval_cursor("500MB", spill) as other:
        assert _setting(other, "memory_limit") != first_limit  # other settings: another database
    assert first_zone == "UTC"
    assert first_limit == "286.1 MiB"  # 300 MB as DuckDB reports it
    same = [k for k in engine._databases if k[1] == "300MB" and k[2] == spill]
    assert len(same) == 1


def test_a_retrieval_s_tables_and_views_die_with_its_cursor(tmp_path) -> None:
    spill = str(tmp_path / "spill")
    with engine.retrieval_cursor(None, spill) as one:
        one.execute("CREATE TEMP TABLE entity AS SELECT 1 AS x")
        one.execute("SET TimeZone = 'America/New_York'")  # a session setting: must not reach the next retrieval
        with engine.retrieval_cursor(None, spill) as concurrent:
            assert concurrent.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'entity'"
            ).fetchall() == [(0,)]
    with engine.retrieval_cursor(None, spill) as later:
        assert later.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'entity'").fetchall() == [(0,)]
        assert _setting(later, "TimeZone") == "UTC"
        later.execute("CREATE TEMP TABLE entity AS SELECT 2 AS x")  # the name is free again


def test_concurrent_retrievals_in_threads_see_only_their_own_rows(tmp_path) -> None:
    spill = str(tmp_path / "spill")
    results: dict[int, list[int]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work(n: int) -> None:
        try:
            with engine.retrieval_cursor(None, spill) as cursor:
                cursor.execute(f"CREATE TEMP TABLE entity AS SELECT range * {n} AS v FROM range(20000)")
                start.wait(timeout=30)
                results[n] = [int(v) for v in cursor.execute("SELECT sum(v), count(*) FROM entity").fetchall()[0]]
        except BaseException as exc:  # reported below: a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(1, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert results == {n: [n * 19999 * 20000 // 2, 20000] for n in range(1, 9)}


def _in_child(spill: str, queue: multiprocessing.Queue) -> None:
    with engine.retrieval_cursor(None, spill) as cursor:
        queue.put(cursor.execute("SELECT 41 + 1").fetchall()[0][0])
    engine._databases.clear()  # the child's own database: freeing it is fine


def test_a_forked_child_opens_its_own_database(tmp_path) -> None:
    """A child that freed its copy of the parent's database would die of SIGSEGV (exit code -11)."""
    spill = str(tmp_path / "spill")
    with engine.retrieval_cursor(None, spill) as cursor:
        cursor.execute("SELECT 1")  # the parent's database exists before the fork
    assert engine._databases
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_in_child, args=(spill, queue))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    assert queue.get(timeout=5) == 42
    with engine.retrieval_cursor(None, spill) as cursor:  # the parent reopens after the fork
        assert cursor.execute("SELECT 1").fetchall() == [(1,)]


def test_a_bad_memory_limit_names_the_option_and_is_not_kept(tmp_path) -> None:
    spill = str(tmp_path / "spill")
    with (
        pytest.raises(ValueError, match=r"offline_store\.memory_limit = 'lots'"),
        engine.retrieval_cursor("lots", spill),
    ):
        pass
    assert not [k for k in engine._databases if k[1] == "lots"]
