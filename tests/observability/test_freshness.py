"""Freshness SLOs against a real platform: registry, parquet offline store, Redis, materialization records."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client import REGISTRY

from featurekit.intervals import DataInterval
from featurekit.observability.errors import UnknownFeatureViewError
from featurekit.observability.freshness import NO_DATA, OK, STALE, check_freshness
from featurekit.observability.jobs import observed_materialize
from featurekit.pipelines.materialize import MaterializeError
from featurekit.repo.loader import load_repo
from featurekit.repo.slo import InvalidSLOError, format_duration, parse_duration
from support.environments import environment_file
from support.ops_cli import run_cli

BATCH = ["user_profile", "user_txn_30d", "user_txn_24h"]


def test_batch_views_just_materialized_are_within_slo(platform) -> None:
    report = check_freshness(platform.settings, views=BATCH)
    assert [v.status for v in report.views] == [OK, OK, OK], [v.detail for v in report.views]
    assert report.ok
    hourly = next(v for v in report.views if v.view == "user_txn_24h")
    assert hourly.slo == timedelta(hours=2)
    assert hourly.newest_online == platform.end  # the last hourly interval's snapshot is what is served
    assert hourly.found_online == hourly.sampled > 0
    assert hourly.last_materialization is not None and hourly.last_materialization.interval_end == platform.end
    assert REGISTRY.get_sample_value("featurekit_freshness_out_of_slo", {"feature_view": "user_txn_24h"}) == 0


def test_the_same_data_a_day_later_is_out_of_slo(platform) -> None:
    later = platform.end + timedelta(days=1, hours=7)
    report = check_freshness(platform.settings, views=["user_txn_30d", "user_txn_24h"], now=later)
    by_view = {v.view: v for v in report.views}
    assert by_view["user_txn_30d"].status == STALE  # 31h+ old against a 30h SLO
    assert "SLO 1d 6h" in by_view["user_txn_30d"].detail and "last materialized ds=" in by_view["user_txn_30d"].detail
    assert by_view["user_txn_24h"].status == STALE
    assert not report.ok and {v.view for v in report.out_of_slo} == {"user_txn_30d", "user_txn_24h"}
    assert REGISTRY.get_sample_value("featurekit_freshness_out_of_slo", {"feature_view": "user_txn_30d"}) == 1
    age = REGISTRY.get_sample_value("featurekit_freshness_age_seconds", {"feature_view": "user_txn_24h"})
    assert age == (later - platform.end).total_seconds()


def test_cli_exit_codes_and_report(platform, tmp_path) -> None:
    data_dir = platform.settings.data_dir
    configured = environment_file(tmp_path / "env", {"metrics": {"textfile_dir": str(tmp_path)}})
    ok = run_cli(["freshness", "--env", str(configured), "-v", "user_txn_24h", "-v", "user_profile"], data_dir,
                 platform.redis_url)  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "all 2 feature view(s) within SLO" in ok.output
    exported = (tmp_path / "featurekit_freshness.prom").read_text()
    assert 'featurekit_freshness_out_of_slo{feature_view="user_txn_24h"} 0.0' in exported
    assert "python_gc" not in exported and "process_" not in exported

    # The stream views hold only yesterday's warehouse backfill: far outside their 5-minute SLO.
    late = run_cli(["freshness", "--env", "local", "--json"], data_dir, platform.redis_url)
    assert late.exit_code == 2, late.output
    # nothing configured: the gauges land in the data directory, readable by a textfile collector
    assert "featurekit_freshness_out_of_slo" in (data_dir / "metrics" / "featurekit_freshness.prom").read_text()
    assert '"user_balance_live"' in late.output and '"ok": false' in late.output


def test_view_without_offline_data_is_reported_as_no_data(platform, tmp_path) -> None:
    from featurekit.observability.offline_latest import offline_location

    location = offline_location(platform.settings.offline_store)
    view_dir = location.path("user_txn_1h")
    moved = tmp_path / "moved"
    location.fs.move(view_dir, str(moved))
    try:
        (result,) = check_freshness(platform.settings, views=["user_txn_1h"]).views
    finally:
        location.fs.move(str(moved), view_dir)
    assert result.status == NO_DATA and "no offline rows" in result.detail


def test_unknown_view_is_named(platform) -> None:
    with pytest.raises(UnknownFeatureViewError, match=r"unknown feature view.*'user_txn_7d'.*known: .*user_txn_24h"):
        check_freshness(platform.settings, views=["user_txn_7d"])
    with pytest.raises(UnknownFeatureViewError, match="'cash_advance_ratios' is an on-demand feature view"):
        check_freshness(platform.settings, views=["cash_advance_ratios"])
    result = run_cli(["freshness", "--env", "local", "-v", "user_txn_7d"], platform.settings.data_dir,
                     platform.redis_url)  # fmt: skip
    assert result.exit_code == 1
    assert "unknown feature view(s) 'user_txn_7d'" in result.output and "Traceback" not in result.output


def test_observed_materialize_records_metrics_and_failures(platform) -> None:
    repo = load_repo(platform.settings)
    view = repo.view("user_txn_24h")
    interval = DataInterval(platform.end - timedelta(hours=1), platform.end)
    labels = {"feature_view": "user_txn_24h"}
    rows_before = REGISTRY.get_sample_value("featurekit_materialization_rows_total", labels) or 0
    exports: list[tuple] = []
    result = observed_materialize(platform.settings, view, interval, export=lambda *a, **_: exports.append(a))
    assert REGISTRY.get_sample_value("featurekit_materialization_rows_total", labels) == rows_before + result.entities
    assert REGISTRY.get_sample_value("featurekit_materialization_lag_seconds", labels) > 0
    assert exports == [("materialize", {"feature_view": "user_txn_24h"})]

    failures = REGISTRY.get_sample_value("featurekit_materialization_failures_total", labels) or 0
    missing = DataInterval(platform.end - timedelta(days=30), platform.end - timedelta(days=30) + timedelta(hours=1))
    with pytest.raises(MaterializeError, match="does not exist"):
        observed_materialize(platform.settings, view, missing, export=lambda *a, **_: exports.append(a))
    assert REGISTRY.get_sample_value("featurekit_materialization_failures_total", labels) == failures + 1
    assert len(exports) == 2  # exported on failure too


def test_slo_durations() -> None:
    assert parse_duration("30h") == timedelta(hours=30)
    assert parse_duration("5m") == timedelta(minutes=5)
    assert parse_duration("1.5d") == timedelta(hours=36)
    for bad in ("", "30", "h", "2 weeks", "-5m", "0s"):
        with pytest.raises(InvalidSLOError, match="duration"):
            parse_duration(bad, where="duration")
    assert format_duration(timedelta(hours=30)) == "1d 6h"
    assert format_duration(timedelta(seconds=250)) == "4m 10s"
