"""The real daily DAG under ``dag.test()``: a good interval, a batch failing its checks, a three-interval backfill."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pyarrow.compute as pc

from featurekit.intervals import DataInterval
from featurekit.offline.layout import BATCH_PREFIX, partition_dir, partition_value
from featurekit.offline.records import latest_record, read_records
from featurekit.offline.storage import offline_location
from support.batch_project import DAY, BatchProject

VIEWS = ("user_profile", "user_txn_30d", "user_balance_live", "user_txn_1h")
DS = partition_value(DAY.start, "daily")
DS_FIRST = partition_value(DAY.start - timedelta(days=2), "daily")
PROFILE = ["user_profile:declared_monthly_income", "user_profile:age_years", "user_profile:employment_type"]

STEPS = ("extract", "monitor", "validate", "plan_shards", "materialize", "record", "freshness", "consistency")


def online(project: BatchProject, features: list[str], users: list[int]) -> dict[str, list]:
    from featurekit.repo.feast_config import feature_store

    rows = [{"user_id": u} for u in users]
    return feature_store(project.settings).get_online_features(features=features, entity_rows=rows).to_dict()


def offline_rows(project: BatchProject, view: str, partition: str):
    return offline_location(project.settings.offline_store).read_partition(view, partition)


def test_good_interval_lands_offline_and_online(project: BatchProject) -> None:
    run = project.run("daily", DAY)

    assert run.state == "success", run.tasks
    assert {f"{v}.{step}" for v in VIEWS for step in STEPS} == set(run.tasks)
    rows = offline_rows(project, "user_txn_30d", DS)
    assert rows.num_rows == 150
    users = rows.column("user_id").to_pylist()[:20]
    got = online(project, ["user_txn_30d:spend_30d", "user_txn_30d:txn_count_30d"], users)
    by_user = {r["user_id"]: r for r in rows.to_pylist()}
    assert got["spend_30d"] == [by_user[u]["spend_30d"] for u in users]
    assert got["txn_count_30d"] == [by_user[u]["txn_count_30d"] for u in users]
    record = latest_record(project.settings, "user_txn_30d")
    assert record is not None and (record.interval_start, record.interval_end) == (DAY.start, DAY.end)
    assert (record.rows, record.entities) == (150, 150)


def test_failing_batch_is_quarantined_and_never_reaches_redis(project: BatchProject) -> None:
    before_interval = DataInterval(DAY.start - timedelta(days=1), DAY.start)
    assert project.run("daily", before_interval).state == "success"
    users = list(range(100_001, 100_151))
    before = online(project, PROFILE, users)
    # Bad source data: negative declared incomes for a tenth of the users.
    project.warehouse("UPDATE users SET declared_monthly_income = -5 WHERE user_id % 10 = 0")

    run = project.run("daily", DAY)

    assert run.state == "failed"
    assert run.tasks["user_profile.validate"] == "failed"
    assert run.tasks["user_profile.materialize"] == "upstream_failed"
    assert all(run.tasks[f"user_txn_30d.{step}"] == "success" for step in ("validate", "materialize"))
    assert online(project, PROFILE, users) == before  # user_profile online values untouched
    location = offline_location(project.settings.offline_store)
    assert location.files(partition_dir("user_profile", DS), BATCH_PREFIX) == []  # not in training data
    quarantine = location.path(f"_quarantine/user_profile/ds={DS}")
    report = json.loads(Path(f"{quarantine}/validation.json").read_text())
    assert report["view"] == "user_profile" and report["result"]["success"] is False
    failed = [r["expectation_config"]["kwargs"] for r in report["result"]["results"] if not r["success"]]
    assert [(f["column"], f["min_value"]) for f in failed] == [("declared_monthly_income", 0)]
    assert "<html" in Path(f"{quarantine}/validation.html").read_text().lower()
    assert len(location.files(f"_quarantine/user_profile/ds={DS}")) == 1  # the batch's parquet
    assert latest_record(project.settings, "user_profile").interval_end == before_interval.end


def test_backfill_of_three_intervals_then_out_of_order_rerun(project: BatchProject) -> None:
    days = DataInterval(DAY.start - timedelta(days=2), DAY.end).split("daily")
    for interval in days:
        run = project.run("daily", interval)
        assert run.state == "success", (interval, run.tasks)

    location = offline_location(project.settings.offline_store)
    assert location.partitions("user_txn_30d") == [partition_value(d.start, "daily") for d in days]
    assert [r.partition for r in read_records(project.settings, "user_txn_30d")] == location.partitions("user_txn_30d")
    latest = offline_rows(project, "user_txn_30d", DS)
    users = latest.column("user_id").to_pylist()
    expected = online(project, ["user_txn_30d:spend_30d"], users)
    assert expected["spend_30d"] == latest.column("spend_30d").to_pylist()

    # Rerunning an older interval replaces its partition and never overwrites fresher online values.
    first = offline_rows(project, "user_txn_30d", DS_FIRST)
    assert project.run("daily", days[0]).state == "success"
    assert len(location.files(partition_dir("user_txn_30d", DS_FIRST), BATCH_PREFIX)) == 1
    rerun = offline_rows(project, "user_txn_30d", DS_FIRST)
    assert rerun.drop_columns(["created"]).equals(first.drop_columns(["created"]))  # replaced, not appended
    assert online(project, ["user_txn_30d:spend_30d"], users) == expected
    assert pc.max(offline_rows(project, "user_txn_30d", DS_FIRST).column("event_timestamp")).as_py() == days[0].end
