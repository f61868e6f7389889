"""``bench batch``'s training-data comparison: the row digest ignores row order and number types (stock returns
ints where the kit may return floats) but not values; unknown sizes are refused by name."""

from __future__ import annotations

import pandas as pd
import pytest

from featurekit.cli.bench import load_bench_module


@pytest.fixture(scope="module")
def training():
    return load_bench_module("training")


def frame(order: list[int], spend: list[float | None], count_dtype: str) -> pd.DataFrame:
    rows = pd.DataFrame(
        {
            "user_id": [1, 1, 2],
            "event_timestamp": pd.to_datetime(["2026-03-01", "2026-03-02", "2026-03-01"], utc=True),
            "spend_30d": spend,
            "txn_count_30d": pd.array([3, None, 5], dtype=count_dtype),
        }
    )
    return rows.iloc[order].reset_index(drop=True)


def test_digest_ignores_order_and_number_types_but_not_values(training) -> None:
    ours = training.canonical(frame([0, 1, 2], [1.5, None, 2.0], "Float64"))
    stock = training.canonical(frame([2, 0, 1], [1.5, None, 2.0], "Int64")[["txn_count_30d", "user_id", "spend_30d",
                                                                          "event_timestamp"]])  # fmt: skip
    assert training.digest(ours) == training.digest(stock)
    changed = training.canonical(frame([0, 1, 2], [1.5, None, 2.5], "Float64"))
    assert training.digest(changed) != training.digest(ours)
    missing = training.canonical(frame([0, 1, 2], [1.5, 7.0, 2.0], "Float64"))
    assert training.digest(missing) != training.digest(ours)


def test_unknown_size_is_refused_by_name() -> None:
    batch = load_bench_module("batch")
    with pytest.raises(ValueError, match="'100x'"):
        batch.run(quick=True, sizes=["100x"])
