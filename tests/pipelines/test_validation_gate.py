"""The quality gate holds on every batch write path, not only in the DAG's task order.

Materialization (the function and ``featurekit materialize``) refuses a partition without a passing validation
record for its current batch and suite, and nothing reaches Redis; ``--skip-validation`` is the counted override;
a backfill stops at the first bad day; training data skips failed and unvalidated partitions and says so.
"""

from __future__ import annotations

import json
import warnings
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from featurekit.cli.main import app
from featurekit.intervals import DataInterval
from featurekit.metrics import MATERIALIZATION_VALIDATION_SKIPPED_TOTAL
from featurekit.offline.layout import partition_dir
from featurekit.offline.records import read_records
from featurekit.offline.storage import offline_location
from featurekit.offline.training_filter import SkippedPartitionsWarning, UnvalidatedSourceError
from featurekit.offline.validation import read_record
from featurekit.pipelines.backfill import backfill
from featurekit.pipelines.extract import extract_view
from featurekit.pipelines.materialize import UnvalidatedPartitionError, materialize_view
from featurekit.quality.validate import DataQualityError, validate_partition
from featurekit.repo.feast_config import feature_store
from support.batch_project import DAY, BatchProject, make_project
from support.redis_state import redis_snapshot

VIEW = "user_balance_live"
DAY1 = DataInterval(DAY.start - timedelta(days=2), DAY.start - timedelta(days=1))
DAY2 = DataInterval(DAY.start - timedelta(days=1), DAY.start)


@pytest.fixture
def project(tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> BatchProject:
    return make_project(tmp_path, redis_url, monkeypatch, users=60, days=5)


def cli(*args: str):
    return CliRunner().invoke(app, list(args))


def break_day(project: BatchProject, interval: DataInterval) -> None:
    """Every balance check of ``interval`` gets a source outside the suite's value set."""
    start, end = (t.replace(tzinfo=None).isoformat(" ") for t in (interval.start, interval.end))
    project.warehouse(
        f"UPDATE balance_checks SET source = 'scraped' WHERE checked_at >= '{start}' AND checked_at < '{end}'"
    )


def test_unvalidated_partition_is_refused_by_function_and_cli(project: BatchProject) -> None:
    settings, view = project.settings, project.view(VIEW)
    extract_view(settings, view, DAY1)
    before = redis_snapshot(project.redis_url)

    with pytest.raises(UnvalidatedPartitionError) as refused:
        materialize_view(settings, view, DAY1)
    message = str(refused.value)
    for part in (VIEW, "ds=" + DAY1.start.strftime("%Y-%m-%d"), "never validated", "featurekit validate"):
        assert part in message, message

    result = cli("materialize", VIEW, "--start", DAY1.start.isoformat(), "--end", DAY1.end.isoformat())
    assert result.exit_code == 1 and "never validated" in result.output and "--skip-validation" in result.output
    span = ("--start", DAY1.start.isoformat(), "--end", DAY1.end.isoformat())
    one_shard = cli("materialize", VIEW, *span, "--shard", "1/2")
    assert one_shard.exit_code == 1 and "never validated" in one_shard.output  # every shard is gated
    bad_shard = cli("materialize", VIEW, *span, "--shard", "2/2")
    assert bad_shard.exit_code == 2 and "--shard" in bad_shard.output and "[0, 2)" in bad_shard.output
    # Feast's own materialize reads through the kit's offline store: refused the same way.
    with pytest.raises(UnvalidatedSourceError, match=r"ds=\S+ \(not validated\)"):
        feature_store(settings).materialize(DAY1.start, DAY1.end, feature_views=[VIEW])
    assert redis_snapshot(project.redis_url) == before  # nothing reached the online store
    assert read_records(settings, VIEW) == []

    # Validated via the CLI: the record names batch and suite, and materialize goes through.
    validated = cli("validate", VIEW, "--start", DAY1.start.isoformat(), "--end", DAY1.end.isoformat())
    assert validated.exit_code == 0, validated.output
    record = read_record(offline_location(settings.offline_store), VIEW, DAY1.start.strftime("%Y-%m-%d"))
    assert record is not None and record.passed and record.suite_fingerprint.startswith("sha256:")
    assert json.loads(Path(record.report).read_text())["batch_id"] == record.batch_id
    # Two shards by hand write what the whole run writes; only the whole run records the interval.
    for shard in ("0/2", "1/2"):
        done = cli("materialize", VIEW, *span, "--shard", shard)
        assert done.exit_code == 0 and f"shard {shard}, not recorded" in done.output, done.output
    assert read_records(settings, VIEW) == []
    sharded = redis_snapshot(project.redis_url)
    assert sharded != before
    done = cli("materialize", VIEW, *span)
    assert done.exit_code == 0, done.output
    assert redis_snapshot(project.redis_url) == sharded
    assert len(read_records(settings, VIEW)) == 1

    # A re-extract is a new batch: the old record no longer vouches for it.
    extract_view(settings, view, DAY1)
    with pytest.raises(UnvalidatedPartitionError, match="validation record is for batch"):
        materialize_view(settings, view, DAY1)
    # So is an edited suite.
    validate_partition(settings, view, DAY1)
    suite = settings.feature_repo / "feature_views" / f"{VIEW}.expectations.yaml"
    suite.write_text(suite.read_text().replace("min_value: -1000000", "min_value: -2000000"))
    with pytest.raises(UnvalidatedPartitionError, match="the suite is now"):
        materialize_view(settings, view, DAY1)


def test_failed_partition_is_refused_and_the_override_is_counted(project: BatchProject) -> None:
    settings, view = project.settings, project.view(VIEW)
    break_day(project, DAY1)
    extract_view(settings, view, DAY1)
    with pytest.raises(DataQualityError):
        validate_partition(settings, view, DAY1)
    record = read_record(offline_location(settings.offline_store), VIEW, DAY1.start.strftime("%Y-%m-%d"))
    assert record is not None and record.outcome == "failed" and "_quarantine" in record.report
    assert any("expect_column_values_to_be_in_set" in f for f in record.failed)
    before = redis_snapshot(project.redis_url)

    result = cli("materialize", VIEW, "--start", DAY1.start.isoformat(), "--end", DAY1.end.isoformat())
    assert result.exit_code == 1 and "FAILED validation" in result.output, result.output
    # Re-extracted (still bad, not validated): refused too.
    extract_view(settings, view, DAY1)
    with pytest.raises(UnvalidatedPartitionError, match="record is for batch"):
        materialize_view(settings, view, DAY1)
    assert redis_snapshot(project.redis_url) == before

    skipped = MATERIALIZATION_VALIDATION_SKIPPED_TOTAL.labels(VIEW)._value.get()
    forced = cli(
        "materialize", VIEW, "--start", DAY1.start.isoformat(), "--end", DAY1.end.isoformat(), "--skip-validation"
    )
    assert forced.exit_code == 0 and "WITHOUT its validation check" in forced.output, forced.output
    assert MATERIALIZATION_VALIDATION_SKIPPED_TOTAL.labels(VIEW)._value.get() == skipped + 1
    assert redis_snapshot(project.redis_url) != before


def test_backfill_validates_and_stops_at_the_bad_day(project: BatchProject) -> None:
    settings, view = project.settings, project.view(VIEW)
    break_day(project, DAY2)
    steps: list[str] = []
    with pytest.raises(DataQualityError) as failure:
        backfill(settings, [view], DAY1.start, DAY.end, on_step=steps.append)
    assert f"validate {VIEW}" in str(failure.value) and DAY2.start.isoformat() in str(failure.value)
    assert steps == [f"{VIEW} {DAY1}"]  # DAY1 done; stopped at DAY2; DAY (after it) never started
    assert [r.partition for r in read_records(settings, VIEW)] == [DAY1.start.strftime("%Y-%m-%d")]
    location = offline_location(settings.offline_store)
    assert location.files(partition_dir(VIEW, DAY2.start.strftime("%Y-%m-%d"))) == []  # quarantined
    assert location.files(partition_dir(VIEW, DAY.start.strftime("%Y-%m-%d"))) == []  # never extracted


def test_training_skips_failed_and_unvalidated_partitions_and_says_so(project: BatchProject) -> None:
    settings, view = project.settings, project.view(VIEW)
    backfill(settings, [view], DAY1.start, DAY1.end, materialize=False)  # extracted and validated
    break_day(project, DAY2)
    extract_view(settings, view, DAY2)
    with pytest.raises(DataQualityError):
        validate_partition(settings, view, DAY2)
    extract_view(settings, view, DAY)  # extracted, not validated yet
    users = pd.read_parquet(settings.offline_store.root / VIEW)["user_id"].unique()[:20]
    entities = pd.DataFrame({"user_id": users, "event_timestamp": pd.Timestamp(DAY.end)})

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = feature_store(settings).get_historical_features(entity_df=entities, features=[f"{VIEW}:balance"])
        stamps = frame.to_df()
    skips = [str(w.message) for w in caught if issubclass(w.category, SkippedPartitionsWarning)]
    assert len(skips) == 1, skips
    assert f"failed: ds={DAY2.start:%Y-%m-%d}" in skips[0] and f"not validated: ds={DAY.start:%Y-%m-%d}" in skips[0]

    # The values come from DAY1, the only validated day: as of DAY.end nothing newer is readable.
    day1 = pd.read_parquet(settings.offline_store.root / VIEW / f"ds={DAY1.start:%Y-%m-%d}")
    latest = day1.sort_values("event_timestamp").groupby("user_id")["balance"].last()
    expected = [latest.get(u) for u in stamps["user_id"]]
    assert sum(v is not None for v in expected) >= 5  # DAY1 really holds values for these users
    assert [None if pd.isna(v) else v for v in stamps["balance"]] == [None if v is None else v for v in expected]

    validate_partition(settings, view, DAY)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        feature_store(settings).get_historical_features(entity_df=entities, features=[f"{VIEW}:balance"]).to_df()
    skips = [str(w.message) for w in caught if issubclass(w.category, SkippedPartitionsWarning)]
    assert len(skips) == 1 and "not validated" not in skips[0] and "failed" in skips[0]
