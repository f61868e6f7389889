"""The DAG's monitor task on a broken source: the real hourly DAG under ``dag.test()``."""

from __future__ import annotations

import pytest

from featurekit.offline.records import latest_record
from support.batch_project import HOUR, BatchProject
from support.redis_state import redis_snapshot


def test_an_empty_source_stops_the_run_at_monitor_naming_tables_services_and_owner(project: BatchProject) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from featurekit.orchestration import tasks

    project.warehouse("CREATE TABLE users_backup AS SELECT * FROM users")
    project.warehouse("DELETE FROM users")  # the users load of the interval arrived empty
    before = redis_snapshot(project.redis_url)

    run = project.run("hourly", HOUR)

    assert run.state == "failed"
    assert run.tasks["user_txn_24h.extract"] == "success"
    assert run.tasks["user_txn_24h.monitor"] == "failed"
    assert run.tasks["user_txn_24h.validate"] == "upstream_failed"  # stopped before validation
    assert redis_snapshot(project.redis_url) == before and latest_record(project.settings, "user_txn_24h") is None
    with pytest.raises(AirflowFailException) as failure:
        tasks.monitor("user_txn_24h", HOUR)
    for part in ("user_txn_24h", "empty", "users", "transactions", "cash_advance_v1", "risk-ml@featurekit.example"):
        assert part in str(failure.value), str(failure.value)
    exported = (project.data / "metrics" / "featurekit_monitor_user_txn_24h.prom").read_text()
    assert 'featurekit_source_broken{feature_services="cash_advance_v1",feature_view="user_txn_24h"' in exported

    project.warehouse("INSERT INTO users SELECT * FROM users_backup")  # the load lands: the rerun goes through
    assert project.run("hourly", HOUR).state == "success"
