"""Quality-gate metrics: a batch that passes, one that fails its suite (quarantined), one that cannot be checked."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pytest
from prometheus_client import REGISTRY

from featurekit.intervals import DataInterval
from featurekit.observability.jobs import observed_validate
from featurekit.offline.layout import partition_value
from featurekit.offline.storage import offline_location
from featurekit.quality.validate import DataQualityError
from featurekit.repo.loader import load_repo


def _runs(result: str) -> float:
    return REGISTRY.get_sample_value("featurekit_validation_runs_total",
                                     {"feature_view": "user_txn_24h", "result": result}) or 0.0  # fmt: skip


def test_validation_runs_are_counted_by_result(corruptible_platform) -> None:
    settings = corruptible_platform.settings
    view = load_repo(settings).view("user_txn_24h")
    interval = DataInterval(corruptible_platform.end - timedelta(hours=1), corruptible_platform.end)
    exports: list[tuple] = []
    before = {r: _runs(r) for r in ("passed", "failed", "error")}
    failed_before = REGISTRY.get_sample_value("featurekit_validation_failed_expectations_total",
                                              {"feature_view": "user_txn_24h"}) or 0.0  # fmt: skip

    report = observed_validate(settings, view, interval, export=lambda *a, **_: exports.append(a))
    assert report.success and _runs("passed") == before["passed"] + 1

    location = offline_location(settings.offline_store)
    partition = partition_value(interval.start, "hourly")
    batch = location.read_partition("user_txn_24h", partition)
    spend = batch.column("spend_24h").to_pylist()
    spend[0] = -50.0  # a debit sum cannot be negative: breaks `spend_24h >= 0` and `spend_24h >= max_debit_24h`
    location.replace_partition("user_txn_24h", partition,
                               batch.set_column(batch.schema.get_field_index("spend_24h"), "spend_24h",
                                                pa.array(spend, type=pa.float64())))  # fmt: skip
    with pytest.raises(DataQualityError, match="expectations failed"):
        observed_validate(settings, view, interval, export=lambda *a, **_: exports.append(a))
    assert _runs("failed") == before["failed"] + 1
    failed_after = REGISTRY.get_sample_value("featurekit_validation_failed_expectations_total",
                                             {"feature_view": "user_txn_24h"})  # fmt: skip
    assert failed_after == failed_before + 2

    long_ago = DataInterval(interval.start - timedelta(days=20), interval.end - timedelta(days=20))
    with pytest.raises(DataQualityError, match="no extracted batch"):
        observed_validate(settings, view, long_ago, export=lambda *a, **_: exports.append(a))
    assert _runs("error") == before["error"] + 1
    assert exports == [("validate", {"feature_view": "user_txn_24h"})] * 3
