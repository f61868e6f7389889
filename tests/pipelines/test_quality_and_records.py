"""The quality gate's suite parsing and failure summary, and materialization records, without Airflow."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from examples.cash_advance.warehouse import WarehouseSpec, generate
from featurekit import duckdb_utc
from featurekit.config import Settings
from featurekit.intervals import DataInterval
from featurekit.offline.layout import BATCH_PREFIX, partition_dir
from featurekit.offline.records import latest_record, read_records, record_materialization
from featurekit.offline.storage import offline_location
from featurekit.pipelines.extract import extract_view
from featurekit.pipelines.materialize import MaterializeResult
from featurekit.quality.quarantine import quarantined_report
from featurekit.quality.suites import RowCountRule, SuiteError, load_suite
from featurekit.quality.validate import DataQualityError, validate_partition
from featurekit.warehouse.load import load_duckdb

DAY = DataInterval(datetime(2026, 2, 9), datetime(2026, 2, 10))


def write_suite(repo: Path, view: str, text: str) -> None:
    (repo / "feature_views").mkdir(parents=True, exist_ok=True)
    (repo / "feature_views" / f"{view}.expectations.yaml").write_text(text)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("view: other\n", "declares view 'other'"),
        ("view: v\nrows: 1\n", "unknown keys ['rows']"),
        ("view: v\nexpectations:\n  - not_an_expectation: {}\n", "expectations[0]"),
        ("view: v\nrow_count: {vs_previous: [1.5, 2]}\n", "vs_previous"),
        ("view: v\nrow_count: {vs_previous: [0.5, 2], vs_previous_min_rows: 0}\n", "vs_previous_min_rows"),
        ("view: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_suites_name_the_file_and_the_problem(tmp_path: Path, text: str, problem: str) -> None:
    write_suite(tmp_path, "v", text)
    with pytest.raises(SuiteError) as failure:
        load_suite(tmp_path, "v")
    assert "v.expectations.yaml" in str(failure.value) and problem in str(failure.value)


def test_missing_suite_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="has no expectation suite"):
        load_suite(tmp_path, "nope")


def test_row_count_band_follows_the_previous_interval() -> None:
    rule = RowCountRule(min=1, max=None, vs_previous=(0.9, 1.2))
    assert rule.bounds(None) == (1, None)
    assert rule.bounds(1000) == (900, 1201)
    assert RowCountRule(min=1, max=1100, vs_previous=(0.9, 1.2)).bounds(1000) == (900, 1100)


def test_row_count_band_ignores_a_previous_interval_too_small_to_compare() -> None:
    rule = RowCountRule(min=1, max=None, vs_previous=(0.2, 5.0))
    assert rule.bounds(3) == (1, None)  # 7 rows after 3 is noise, not an outage
    assert rule.bounds(50) == (10, 251)
    assert RowCountRule(min=1, vs_previous=(0.2, 5.0), vs_previous_min_rows=2).bounds(3) == (1, 16)


def test_failing_batch_summary_names_view_interval_and_expectation(settings: Settings) -> None:
    from featurekit.repo.loader import load_repo

    load_duckdb(generate(WarehouseSpec(users=80, days=3, end=DAY.end, seed=2)), settings.warehouse.path)
    view = load_repo(settings).view("user_profile")

    with duckdb_utc.connect(settings.warehouse.path) as con:
        con.execute("UPDATE users SET employment_type = 'astronaut' WHERE user_id % 4 = 0")
    extract_view(settings, view, DAY)

    with pytest.raises(DataQualityError) as failure:
        validate_partition(settings, view, DAY)

    message = str(failure.value)
    for part in ("validate user_profile", DAY.start.isoformat(), "expect_column_values_to_be_in_set", "astronaut"):
        assert part in message, message
    assert "1 of 17 expectations failed" in message and "NOT materialized" in message
    location = offline_location(settings.offline_store)
    assert location.files(partition_dir("user_profile", "2026-02-09"), BATCH_PREFIX) == []
    report = json.loads(quarantined_report(location, "user_profile", "2026-02-09"))
    assert report["interval"] == [DAY.start.isoformat(), DAY.end.isoformat()] and report["rows"] == 80


def test_materialization_records_are_per_partition_and_reruns_overwrite(settings: Settings) -> None:
    days = DataInterval(DAY.start - timedelta(days=2), DAY.end).split("daily")
    for interval in reversed(days):  # written out of order
        partition = interval.start.strftime("%Y-%m-%d")
        record_materialization(settings, MaterializeResult("user_profile", partition, 10, 5), interval)
    finished = datetime(2026, 2, 11, tzinfo=UTC)
    rerun = MaterializeResult("user_profile", "2026-02-08", 12, 6)
    record_materialization(settings, rerun, days[1], finished_at=finished)

    records = read_records(settings, "user_profile")
    assert [r.partition for r in records] == ["2026-02-07", "2026-02-08", "2026-02-09"]
    assert (records[1].rows, records[1].entities, records[1].finished_at) == (12, 6, finished)
    assert latest_record(settings, "user_profile").interval_end == DAY.end
    assert latest_record(settings, "user_txn_30d") is None
