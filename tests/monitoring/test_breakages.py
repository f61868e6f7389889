"""Each kind of data breakage, injected into the warehouse and caught by the monitor step with the right names:
a drifted feature, a one-slice outage that the whole-view numbers average away, an empty or partial source."""

from __future__ import annotations

import pytest

from featurekit.monitoring.impact import blast_radius
from featurekit.monitoring.monitor import SourceBrokenError, monitor_view
from featurekit.pipelines.extract import extract_view
from support.monitoring_history import TODAY, History

OWNER = "risk-ml@featurekit.example"


def run_day(history: History, view: str):
    extract_view(history.settings, history.view(view), TODAY)
    return monitor_view(history.settings, history.view(view), TODAY, history.lineage())


def test_a_normal_day_is_quiet(history: History) -> None:
    for view in ("user_profile", "user_txn_30d"):
        report = run_day(history, view)
        (drift,) = report.drift
        assert len(drift.reference) == 6 and drift.scores, view
        assert not report.source.broken, report.summary
        assert drift.drifted == [] and drift.outages == [], report.summary


def test_a_drifted_feature_is_named(history: History) -> None:
    history.warehouse("UPDATE users SET declared_monthly_income = declared_monthly_income * 2.5")

    report = run_day(history, "user_profile")

    (drift,) = report.drift
    whole = {s.feature for s in drift.drifted if s.slice == "*"}
    assert whole == {"declared_monthly_income"}, report.summary
    top = drift.drifted[0]
    assert (top.metric, top.feature) == ("psi", "declared_monthly_income") and top.score > 1.0
    assert not report.source.broken and drift.outages == []


def test_a_categorical_shift_is_caught_by_js_distance(history: History) -> None:
    history.warehouse("UPDATE users SET employment_type = 'gig' WHERE employment_type = 'salaried'")

    (drift,) = run_day(history, "user_profile").drift

    (score,) = [s for s in drift.drifted if s.slice == "*"]
    assert (score.feature, score.metric) == ("employment_type", "js")


def test_a_one_slice_outage_names_the_slice_and_is_not_averaged_away(history: History) -> None:
    # Income goes null for the users of one small state only (GA, ~7% of users): the view-wide null rate rises by
    # about 0.07, under the 0.1 budget, so only the per-slice check can see it.
    history.warehouse("UPDATE users SET declared_monthly_income = NULL WHERE state = 'GA'")

    report = run_day(history, "user_profile")

    (drift,) = report.drift
    outages = [(o.slice, o.feature, o.kind) for o in drift.outages]
    assert outages == [("state=GA", "declared_monthly_income", "nulls")], report.summary
    assert drift.outages[0].current == 1.0 and drift.outages[0].reference == 0.0
    assert "state=GA" in report.summary and "declared_monthly_income" in report.summary


def test_a_slice_losing_its_rows_is_an_outage(history: History) -> None:
    # The rows of one state stop arriving (a connector for that state broke): the view's row count barely moves.
    history.warehouse("DELETE FROM users WHERE state = 'FL'")

    report = run_day(history, "user_profile")

    assert not report.source.broken  # 14% fewer rows: not a broken source
    kinds = {(o.slice, o.kind) for o in report.drift[0].outages}
    assert kinds == {("state=FL", "rows")}, report.summary


def test_an_empty_source_fails_before_validation_with_its_blast_radius(history: History) -> None:
    history.warehouse("DELETE FROM users")

    with pytest.raises(SourceBrokenError) as failure:
        run_day(history, "user_txn_30d")

    message = str(failure.value)
    for part in ("user_txn_30d", "empty", "users", "transactions", "cash_advance_v1", OWNER):
        assert part in message, message


def test_a_partial_source_is_flagged_against_the_recent_median(history: History) -> None:
    history.warehouse("DELETE FROM users WHERE user_id % 4 <> 0")  # three quarters of the rows missing

    with pytest.raises(SourceBrokenError, match=r"partial.*below 0.5 x the median"):
        run_day(history, "user_profile")


def test_late_source_rows_are_flagged(history: History) -> None:
    # The balance feed stopped at 18:00: the day's extract has rows, but none from its last six hours.
    view = history.view("user_balance_live")
    view.tags["max_event_delay"] = "2h"
    history.warehouse(f"DELETE FROM balance_checks WHERE checked_at >= TIMESTAMP '{TODAY.end:%Y-%m-%d} 00:00:00' "
                      "- INTERVAL 6 HOUR")  # fmt: skip

    with pytest.raises(SourceBrokenError, match=r"late.*newest event .* is older than expected") as failure:
        run_day(history, "user_balance_live")
    assert "balance_checks" in str(failure.value) and "cash_advance_v1" in str(failure.value)


def test_impact_of_a_table_and_of_a_view(history: History) -> None:
    users = blast_radius(history.lineage(), "users")
    assert set(users.views) >= {"user_profile", "user_txn_30d", "user_txn_24h", "cash_advance_ratios"}
    assert "user_balance_live" not in users.views
    assert users.services == {"cash_advance_v1": OWNER} and users.owners == [OWNER]
    view = blast_radius(history.lineage(), "user_balance_live")
    assert view.tables == ["balance_checks"] and "cash_advance_v1" in view.services
    with pytest.raises(LookupError, match="neither a feature view"):
        blast_radius(history.lineage(), "no_such_table")


def test_demo_stage_catches_one_breakage_of_each_kind(history: History) -> None:
    from io import StringIO

    from rich.console import Console

    from examples.cash_advance.breakages import run_breakage_stage

    before = history.view("user_profile")  # the demo's own store is left as it was
    partitions = sorted(p.name for p in (history.settings.offline_store.root / "user_profile").iterdir())
    out = StringIO()

    caught = run_breakage_stage(history.settings, Console(file=out, width=200))

    by_kind = {c["breakage"]: c for c in caught}
    assert any("FeatureDrift" in a and "declared_monthly_income" in a for a in by_kind["drifted feature"]["alerts"])
    (outage,) = [a for a in by_kind["one-slice outage"]["alerts"] if "FeatureSliceOutage" in a]
    assert "state=IL" in outage and "declared_monthly_income" in outage, out.getvalue()
    (empty,) = by_kind["empty source"]["alerts"]
    assert "FeatureSourceBroken" in empty and "empty" in empty and "users" in empty
    assert all(c["services"] == ["cash_advance_v1"] and c["owners"] == [OWNER] for c in caught)
    assert "nothing caught" not in out.getvalue()
    assert sorted(p.name for p in (history.settings.offline_store.root / "user_profile").iterdir()) == partitions
    assert before.name == "user_profile"


def test_stream_views_are_profiled_per_hour_and_an_hour_outage_is_named(history: History) -> None:
    from datetime import timedelta

    from featurekit.intervals import DataInterval
    from featurekit.pipelines.backfill import backfill

    view = history.view("user_balance_live")
    backfill(history.settings, [view], TODAY.start - timedelta(days=3), TODAY.start, materialize=False)
    for day in range(3, 0, -1):  # the previous days' monitor runs profiled their hours
        earlier = DataInterval(TODAY.start - timedelta(days=day), TODAY.end - timedelta(days=day))
        monitor_view(history.settings, view, earlier, history.lineage())
    hour = TODAY.start + timedelta(hours=13)
    start = f"TIMESTAMP '{hour:%Y-%m-%d %H}:00:00'"
    history.warehouse(f"UPDATE balance_checks SET balance = NULL WHERE checked_at >= {start} "
                      f"AND checked_at < {start} + INTERVAL 1 HOUR")  # fmt: skip

    report = run_day(history, "user_balance_live")

    by_hour = {r.partition: r for r in report.drift}
    assert len(by_hour) >= 20 and all(p.startswith(f"{TODAY.start:%Y-%m-%d}T") for p in by_hour)
    assert by_hour[f"{hour:%Y-%m-%dT%H}"].reference == [
        f"{hour - timedelta(days=d):%Y-%m-%dT%H}" for d in (3, 2, 1)
    ]  # the same hour on the previous days
    outages = [(r.partition, o.slice, o.feature) for r in report.drift for o in r.outages]
    assert outages == [(f"{hour:%Y-%m-%dT%H}", "*", "balance")], report.summary


def test_slices_are_bounded_and_a_pinned_reference_is_used(history: History) -> None:
    from featurekit.monitoring.drift import evaluate
    from featurekit.monitoring.profile import profile_names, profile_table, read_profiles
    from featurekit.offline.storage import offline_location

    view = history.view("user_profile")
    names = profile_names(history.settings, "user_profile")
    table = offline_location(history.settings.offline_store).read_partition("user_profile", names[-1])
    view.tags["slice_top_n"] = "3"

    profile = profile_table(view, names[-1], table)

    slices = profile.slices["state"]
    assert set(slices) == {"CA", "TX", "FL", "__other__"}  # the three largest states, the rest pooled
    assert sum(g.rows for g in slices.values()) == profile.rows == table.num_rows
    view.tags["drift_reference"] = f"pinned:{names[0]},{names[1]}"
    report = evaluate(view, profile, read_profiles(history.settings, "user_profile"))
    assert report.reference == names[:2]
