"""Training data through Feast's Athena offline store (on the emulator) equals the local DuckDB path."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from featurekit.offline.athena import ensure_table
from featurekit.offline.layout import partition_value
from featurekit.offline.schema import offline_schema
from featurekit.offline.storage import offline_location
from featurekit.offline.training_filter import SkippedPartitionsWarning, UnvalidatedSourceError
from featurekit.offline.validation import record_path
from featurekit.pipelines.backfill import backfill
from featurekit.repo.apply import apply_repo, checked_repo
from featurekit.repo.feast_config import feature_store
from support.batch_project import DAY

SERVICE = "cash_advance_v1"


def entity_rows() -> pd.DataFrame:
    """Requests at awkward instants: exactly on a snapshot, between snapshots, past ttl, unknown users."""
    rng = np.random.default_rng(3)
    users = [*rng.integers(100_001, 100_121, size=60).tolist(), 999_999, 999_998]
    base = pd.Timestamp(DAY.end)
    offsets = [timedelta(hours=int(h)) for h in rng.integers(-60, 2, size=len(users))]
    offsets[:3] = [timedelta(0), timedelta(days=-1), timedelta(days=-5)]  # on a snapshot; a day back; past ttl
    return pd.DataFrame(
        {
            "user_id": users,
            "event_timestamp": [base + o for o in offsets],
            "requested_amount": rng.uniform(20, 400, size=len(users)).round(2),
        }
    )


def training_data(settings, entities: pd.DataFrame) -> pd.DataFrame:
    store = feature_store(settings)
    frame = store.get_historical_features(entity_df=entities, features=store.get_feature_service(SERVICE)).to_df()
    frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"], utc=True).astype("datetime64[us, UTC]")
    frame = frame.sort_values(["user_id", "event_timestamp", "requested_amount"]).reset_index(drop=True)
    return frame[sorted(frame.columns)]


def load_both(paths) -> None:
    """Apply the repo and backfill (extract + validate) the same days into the local and the Athena offline store."""
    for settings in (paths.local, paths.athena):
        repo = checked_repo(settings)
        if settings is paths.athena:
            for view in [*repo.batch_views, *repo.stream_views]:
                ensure_table(settings.offline_store, view.name, offline_schema(view))
        apply_repo(settings, repo)
        views = [*repo.batch_views, *repo.stream_views]
        daily = [v for v in views if v.tags["schedule"] != "hourly"]
        hourly = [v for v in views if v.tags["schedule"] == "hourly"]
        backfill(settings, daily, DAY.start - timedelta(days=2), DAY.end, materialize=False)
        backfill(settings, hourly, DAY.end - timedelta(hours=6), DAY.end, materialize=False)


def test_historical_features_match_between_athena_and_local(paths) -> None:
    load_both(paths)
    entities = entity_rows()
    local = training_data(paths.local, entities)
    remote = training_data(paths.athena, entities)

    assert len(local) == len(entities)  # unmatched entity rows are kept, with nulls
    assert local["spend_30d"].notna().sum() > 30
    assert local.loc[local["user_id"] >= 999_998, "spend_30d"].isna().all()
    pd.testing.assert_frame_equal(remote, local, check_dtype=False, check_exact=False, rtol=1e-9)


def test_athena_training_leaves_out_batches_without_a_passing_record_like_local(paths) -> None:
    """A day whose validation record is gone (re-extracted, or never validated) is left out of training on Athena
    exactly as on the local store: by its batch files ("$path"), with the same warning."""
    load_both(paths)
    entities = entity_rows()
    before = training_data(paths.athena, entities)
    partition = partition_value(DAY.start - timedelta(days=1), "daily")  # the snapshot most entity rows read
    for settings in (paths.local, paths.athena):
        location = offline_location(settings.offline_store)
        location.fs.delete_file(location.path(record_path("user_txn_30d", partition)))
    with pytest.warns(SkippedPartitionsWarning, match=rf"user_txn_30d skips 1 .*not validated: ds={partition}"):
        remote = training_data(paths.athena, entities)
    with pytest.warns(SkippedPartitionsWarning, match=rf"user_txn_30d skips 1 .*not validated: ds={partition}"):
        local = training_data(paths.local, entities)
    pd.testing.assert_frame_equal(remote, local, check_dtype=False, check_exact=False, rtol=1e-9)
    changed = (remote["spend_30d"].fillna(-1) != before["spend_30d"].fillna(-1)).sum()
    assert changed > 10, "the unvalidated day still reached the training set"
    pd.testing.assert_series_equal(remote["age_years"], before["age_years"])  # other views keep every day
    assert any('"$path" NOT IN' in sql for sql in paths.emulator.statements)
    # Feast's own materialize on the Athena store is refused for that day, as the local store refuses it
    before_pull = len(paths.emulator.statements)
    with pytest.raises(UnvalidatedSourceError, match=rf"materialize user_txn_30d .*ds={partition} \(not validated\)"):
        feature_store(paths.athena).materialize(DAY.start - timedelta(days=2), DAY.end, feature_views=["user_txn_30d"])
    assert len(paths.emulator.statements) == before_pull  # refused before any query ran
