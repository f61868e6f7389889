"""Faults on the hourly DAG: bad SQL, a missing table, schema drift, an empty interval, Redis down.

Each fails the run with a message naming view, interval and cause, writes nothing online, and a rerun after the
fix succeeds. The hourly DAG (one view) keeps these runs short; the daily DAG runs the same task code.
"""

from __future__ import annotations

import threading

import pytest

from featurekit.offline.layout import partition_value
from featurekit.offline.records import latest_record
from featurekit.offline.storage import offline_location
from support.batch_project import DAY, HOUR, BatchProject
from support.redis_state import redis_snapshot
from support.tcp_proxy import TcpProxy

FEATURES = [f"user_txn_24h:{f}" for f in ("txn_count_24h", "spend_24h", "income_24h", "max_debit_24h")]
USERS = list(range(100_001, 100_151))


def online(project: BatchProject) -> dict[str, list]:
    from featurekit.repo.feast_config import feature_store

    store = feature_store(project.settings)
    rows = [{"user_id": u} for u in USERS]
    return store.get_online_features(features=FEATURES, entity_rows=rows).to_dict()


def failure_of(step: str, view: str, interval) -> str:
    """The message the task fails with (the same call the DAG's task makes)."""
    from airflow.sdk.exceptions import AirflowFailException

    from featurekit.orchestration import tasks

    if step == "validate":
        tasks.extract(view, interval)  # the failed run quarantined its batch; check a fresh one
    with pytest.raises(AirflowFailException) as failure:
        getattr(tasks, step)(view, interval)
    return str(failure.value)


def assert_fails_cleanly(project: BatchProject, step: str, *causes: str) -> None:
    before = redis_snapshot(project.redis_url)
    run = project.run("hourly", HOUR)
    assert run.state == "failed"
    assert run.tasks[f"user_txn_24h.{step}"] == "failed"
    assert run.tasks["user_txn_24h.materialize"] == "upstream_failed"
    message = failure_of(step, "user_txn_24h", HOUR)
    for part in ("user_txn_24h", HOUR.start.isoformat(), *causes):
        assert part in message, message
    assert redis_snapshot(project.redis_url) == before
    assert latest_record(project.settings, "user_txn_24h") is None


def assert_rerun_succeeds(project: BatchProject) -> None:
    run = project.run("hourly", HOUR)
    assert run.state == "success", run.tasks
    assert latest_record(project.settings, "user_txn_24h").interval_end == HOUR.end
    assert any(v is not None for v in online(project)["txn_count_24h"])


def test_source_sql_error_then_fixed(project: BatchProject) -> None:
    sql = project.sql_file("user_txn_24h")
    original = sql.read_text()
    sql.write_text(original.replace("MAX(CASE WHEN t.amount < 0", "MAX(CASE WHEN t.amount_usd < 0"))
    assert_fails_cleanly(project, "extract", "amount_usd")
    sql.write_text(original)
    assert_rerun_succeeds(project)


def test_missing_table_then_restored(project: BatchProject) -> None:
    project.warehouse("ALTER TABLE transactions RENAME TO transactions_staging")
    assert_fails_cleanly(project, "extract", "transactions")
    project.warehouse("ALTER TABLE transactions_staging RENAME TO transactions")
    assert_rerun_succeeds(project)


def test_empty_interval_is_quarantined_then_loaded(project: BatchProject) -> None:
    project.warehouse("CREATE TABLE late_load AS SELECT * FROM transactions")
    project.warehouse("DELETE FROM transactions")  # the load for the interval has not arrived
    assert_fails_cleanly(project, "validate", "expect_column_sum_to_be_between", "quarantined")
    location = offline_location(project.settings.offline_store)
    partition = partition_value(HOUR.start, "hourly")
    assert location.files(f"_quarantine/user_txn_24h/ds={partition}")
    project.warehouse("INSERT INTO transactions SELECT * FROM late_load")
    assert_rerun_succeeds(project)


def test_schema_drift_names_the_column_then_fixed(project: BatchProject) -> None:
    project.warehouse("ALTER TABLE users ALTER declared_monthly_income SET DATA TYPE VARCHAR")
    project.warehouse("UPDATE users SET declared_monthly_income = declared_monthly_income || ' USD'")
    run = project.run("daily", DAY)
    assert run.state == "failed"
    assert run.tasks["user_profile.extract"] == "failed"
    assert run.tasks["user_profile.materialize"] == "upstream_failed"
    assert run.tasks["user_txn_30d.materialize"] == "success"  # other views are independent
    message = failure_of("extract", "user_profile", DAY)
    for part in ("user_profile", DAY.start.isoformat(), "declared_monthly_income", "string", "double"):
        assert part in message, message
    assert latest_record(project.settings, "user_profile") is None

    project.warehouse("UPDATE users SET declared_monthly_income = replace(declared_monthly_income, ' USD', '')")
    project.warehouse("ALTER TABLE users ALTER declared_monthly_income SET DATA TYPE DOUBLE")
    assert project.run("daily", DAY).state == "success"
    assert latest_record(project.settings, "user_profile").interval_end == DAY.end


def test_redis_down_during_materialize_retries_to_the_clean_state(
    project: BatchProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    host, port = project.redis_url.removeprefix("redis://").split("/")[0].split(":")
    proxy = TcpProxy(host, int(port))
    monkeypatch.setenv("FEATUREKIT_REDIS_URL", proxy.url)
    proxy.down = True

    def recover_later(p: TcpProxy) -> None:
        if p.refused == 1:  # Redis comes back a moment after the first refused connection
            threading.Timer(1.0, lambda: setattr(p, "down", False)).start()

    proxy.on_refused = recover_later
    try:
        run = project.run("hourly", HOUR)
    finally:
        proxy.close()
    assert proxy.refused >= 1
    assert run.state == "success", run.tasks
    recovered = online(project)

    monkeypatch.setenv("FEATUREKIT_REDIS_URL", project.redis_url)
    import redis

    redis.Redis.from_url(project.redis_url).flushall()
    assert project.run("hourly", HOUR).state == "success"
    assert online(project) == recovered
