"""The ML-service helper: a paid balance check only when the stored balance is missing or older than allowed."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from examples.cash_advance.balance_checker import BalanceChecker
from featurekit.online_store.store import TieredRedisOnlineStore
from featurekit.repo.feast_config import feature_store
from support.streams import settings_for

NOW = datetime.now(UTC).replace(microsecond=0)


def test_fresh_balances_avoid_paid_calls_stale_and_missing_do_not(tmp_path, redis_url, applied_registry):
    shutil.copy(applied_registry, tmp_path / "registry.db")
    settings = settings_for(tmp_path, redis_url, "127.0.0.1:9")
    store = feature_store(settings)
    observed = [NOW - timedelta(minutes=2), NOW - timedelta(minutes=40), NOW - timedelta(seconds=5)]
    rows = pa.table(
        {
            "user_id": pa.array([1, 2, 3], pa.int64()),
            "balance": [120.5, -30.0, 999.0],
            "balance_source": ["passive", "active", "passive"],
            "balance_observed_at": pa.array([int(t.timestamp()) for t in observed], pa.int64()),
            "event_timestamp": pa.array(observed, pa.timestamp("us", tz="UTC")),
        }
    )
    TieredRedisOnlineStore().write_arrow(store.config, store.get_stream_feature_view("user_balance_live"), rows)

    checker = BalanceChecker.from_feature_store(store, timedelta(minutes=15), clock=NOW.timestamp)
    fresh, stale, fresh_too, missing = checker.decide([1, 2, 3, 4])

    assert (fresh.paid_check_needed, fresh.reason, fresh.balance, fresh.age_s) == (False, "fresh", 120.5, 120.0)
    assert (stale.paid_check_needed, stale.reason, stale.balance_source) == (True, "stale", "active")
    assert stale.age_s == 2400.0
    assert not fresh_too.paid_check_needed
    assert (missing.paid_check_needed, missing.reason, missing.balance) == (True, "missing", None)
    assert (checker.paid_calls_avoided, checker.paid_calls_made) == (2, 2)
    # Feast's own reader gives the same decisions as the fast path.
    assert BalanceChecker(store, timedelta(minutes=15), clock=NOW.timestamp).decide([1, 2, 3, 4]) == [
        fresh,
        stale,
        fresh_too,
        missing,
    ]
