"""Drift and slice outages of one partition against a reference built from stored profiles.

* **Reference**: the ``drift_reference`` tag of the view: ``rolling:N`` (default ``rolling:7``: the N previous
  partitions; for hourly profiles the same hour of the N previous days, so daily seasonality is not drift) or
  ``pinned:P1,P2,...`` (the partitions a model was trained on: a pinned training snapshot).
* **Numeric features**: PSI over ten reference-decile bins plus a null bin, each side's bin masses read off its
  stored quantiles (no data is re-read). **Categorical**: Jensen-Shannon distance (base 2, 0..1) over the top values,
  ``__other__`` and nulls.
* **Thresholds**: a field's ``drift_threshold`` tag, else the view's, else :data:`DEFAULT_PSI` / :data:`DEFAULT_JS`.
* **Slices** (``slices`` tag): each slice is scored as above, and an *outage* is reported when a slice's share of rows
  falls below ``slice_min_row_ratio`` (default 0.5) of its reference share, or a feature's null rate in the slice
  rises by more than ``null_rate_increase`` (default 0.1) over the reference. Slices with fewer reference rows than
  ``slice_min_rows`` (default 20) are skipped: too small to tell noise from an outage.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from typing import Any

from featurekit.monitoring.profile import (
    ALL,
    NULL,
    OTHER,
    QUANTILES,
    FeatureProfile,
    GroupProfile,
    PartitionProfile,
)

DEFAULT_PSI = 0.2
DEFAULT_JS = 0.1
DEFAULT_WINDOW = 7
DEFAULT_MIN_ROW_RATIO = 0.5
DEFAULT_NULL_INCREASE = 0.1
DEFAULT_SLICE_MIN_ROWS = 20
_EPS = 1e-4
_DECILES = [QUANTILES.index(q) for q in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)]


@dataclass(frozen=True)
class DriftScore:
    view: str
    partition: str
    feature: str
    slice: str  # "*" for all rows, else "column=value"
    metric: str  # psi | js
    score: float
    threshold: float

    @property
    def drifted(self) -> bool:
        return self.score > self.threshold


@dataclass(frozen=True)
class SliceOutage:
    view: str
    partition: str
    slice: str
    feature: str  # "" for a row-count outage
    kind: str  # rows | nulls
    current: float
    reference: float

    def describe(self) -> str:
        if self.kind == "rows":
            return f"{self.slice}: row share {self.current:.2%} vs {self.reference:.2%} in the reference"
        return f"{self.slice}: {self.feature} null rate {self.current:.2%} vs {self.reference:.2%} in the reference"


@dataclass
class DriftReport:
    view: str
    partition: str
    reference: list[str]
    scores: list[DriftScore] = field(default_factory=list)
    outages: list[SliceOutage] = field(default_factory=list)

    @property
    def drifted(self) -> list[DriftScore]:
        return sorted((s for s in self.scores if s.drifted), key=lambda s: s.score / s.threshold, reverse=True)

    def to_dict(self) -> dict[str, Any]:
        return {
            "view": self.view,
            "partition": self.partition,
            "reference": self.reference,
            "drifted": [asdict(s) for s in self.drifted],
            "outages": [asdict(o) for o in self.outages],
        }


# ---- tags ----------------------------------------------------------------------------------------------------


def _float_tag(view: Any, name: str, default: float, tags: dict[str, str] | None = None) -> float:
    raw = (tags if tags is not None else view.tags).get(name)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"feature view {view.name!r}: tag {name}={raw!r} is not a number") from None


def threshold(view: Any, feature: str, metric: str) -> float:
    """The feature's ``drift_threshold`` tag, else the view's, else the default for ``metric``."""
    default = _float_tag(view, "drift_threshold", DEFAULT_PSI if metric == "psi" else DEFAULT_JS)
    for f in view.features:
        if f.name == feature:
            return _float_tag(view, "drift_threshold", default, dict(f.tags or {}))
    return default


def reference_names(view: Any, current: str, names: list[str]) -> list[str]:
    """The partitions the ``drift_reference`` tag selects for partition ``current`` among ``names`` (never
    ``current`` itself). Works on names, so a monitor run reads only the profiles it compares with."""
    raw = view.tags.get("drift_reference", f"rolling:{DEFAULT_WINDOW}").strip()
    kind, _, arg = raw.partition(":")
    if kind == "pinned":
        wanted = {p.strip() for p in arg.split(",") if p.strip()}
        if not wanted:
            raise ValueError(f"feature view {view.name!r}: drift_reference={raw!r} names no partition")
        return sorted(n for n in names if n in wanted and n != current)
    if kind != "rolling" or not arg.strip().isdigit() or int(arg) < 1:
        raise ValueError(f"feature view {view.name!r}: drift_reference={raw!r}; expected 'rolling:N' or 'pinned:P1,P2'")
    earlier = sorted(n for n in names if n < current)
    if "T" in current:  # hourly profile: the same hour on previous days
        hour = current.split("T", 1)[1]
        earlier = [n for n in earlier if n.endswith(f"T{hour}")]
    return earlier[-int(arg) :]


def reference_profiles(view: Any, current: PartitionProfile, history: list[PartitionProfile]) -> list[PartitionProfile]:
    """The profiles among ``history`` that :func:`reference_names` selects for ``current``."""
    by_name = {p.partition: p for p in history}
    return [by_name[n] for n in reference_names(view, current.partition, list(by_name))]


# ---- distances -----------------------------------------------------------------------------------------------


def _cdf(quantiles: list[float], x: float) -> float:
    """P(X <= x) read off 21 stored quantiles: right-continuous, linear between distinct quantile values."""
    if not quantiles or x < quantiles[0]:
        return 0.0
    if x >= quantiles[-1]:
        return 1.0
    i = bisect_right(quantiles, x) - 1
    low, high = quantiles[i], quantiles[i + 1]
    return QUANTILES[i] + (x - low) / (high - low) * (QUANTILES[i + 1] - QUANTILES[i])


def _masses(profile: FeatureProfile, edges: list[float]) -> list[float]:
    """Share of rows in each bin: nulls, (-inf, e1], (e1, e2], ..., (ek, inf)."""
    if not profile.count:
        return [0.0] * (len(edges) + 2)
    present = 1.0 - profile.null_rate
    points = [0.0, *(_cdf(profile.quantiles, e) for e in edges), 1.0]
    return [profile.null_rate, *(present * (b - a) for a, b in pairwise(points))]


def psi(reference: list[FeatureProfile], current: FeatureProfile) -> float | None:
    """Population stability index of ``current`` against the row-weighted mix of ``reference``."""
    usable = [p for p in reference if p.count and p.quantiles]
    total = sum(p.count for p in usable)
    if not total or not current.count:
        return None
    edges = sorted({sum(p.quantiles[i] * p.count for p in usable) / total for i in _DECILES})
    expected = [0.0] * (len(edges) + 2)
    for p in usable:
        for i, m in enumerate(_masses(p, edges)):
            expected[i] += m * p.count / total
    actual = _masses(current, edges)
    return sum((a - e) * math.log(max(a, _EPS) / max(e, _EPS)) for a, e in zip(actual, expected, strict=True))


def js_distance(reference: list[FeatureProfile], current: FeatureProfile) -> float | None:
    """Jensen-Shannon distance (base 2) between value frequencies (top values, other, null)."""

    def counts(profiles: list[FeatureProfile]) -> dict[str, float]:
        out: dict[str, float] = {}
        for p in profiles:
            for value, n in {**p.top, OTHER: p.other, NULL: p.nulls}.items():
                out[value] = out.get(value, 0.0) + n
        return out

    ref, cur = counts(reference), counts([current])
    ref_total, cur_total = sum(ref.values()), sum(cur.values())
    if not ref_total or not cur_total:
        return None
    divergence = 0.0
    for key in set(ref) | set(cur):
        p, q = cur.get(key, 0.0) / cur_total, ref.get(key, 0.0) / ref_total
        m = (p + q) / 2
        divergence += 0.5 * (p * math.log2(p / m) if p else 0.0) + 0.5 * (q * math.log2(q / m) if q else 0.0)
    return math.sqrt(max(divergence, 0.0))


# ---- evaluation ----------------------------------------------------------------------------------------------


def evaluate(view: Any, current: PartitionProfile, history: list[PartitionProfile]) -> DriftReport:
    """Drift of every feature (whole partition and each slice) and slice outages of ``current``."""
    reference = reference_profiles(view, current, history)
    report = DriftReport(view=view.name, partition=current.partition, reference=[p.partition for p in reference])
    if not reference:
        return report
    report.scores += _score_group(view, current.partition, ALL, current.features, [p.features for p in reference])
    report.outages += _null_increase(view, current.partition, ALL, current.features, [p.features for p in reference])
    min_ratio = _float_tag(view, "slice_min_row_ratio", DEFAULT_MIN_ROW_RATIO)
    min_rows = _float_tag(view, "slice_min_rows", DEFAULT_SLICE_MIN_ROWS)
    for column, groups in current.slices.items():
        ref_total = sum(p.rows for p in reference)
        values = set(groups) | {v for p in reference for v in p.slices.get(column, {})}
        for value in sorted(values - {OTHER}):
            label = f"{column}={value}"
            ref_groups = [p.slices.get(column, {}).get(value) for p in reference]
            ref_groups_present = [g for g in ref_groups if g is not None]
            ref_rows = sum(g.rows for g in ref_groups_present)
            if ref_rows < min_rows * len(reference):
                continue
            group = groups.get(value, GroupProfile(0, {}))
            share, ref_share = group.rows / current.rows if current.rows else 0.0, ref_rows / ref_total
            if share < min_ratio * ref_share:
                report.outages.append(SliceOutage(view.name, current.partition, label, "", "rows", share, ref_share))
            if not group.rows:
                continue
            ref_features = [g.features for g in ref_groups_present]
            report.scores += _score_group(view, current.partition, label, group.features, ref_features)
            report.outages += _null_increase(view, current.partition, label, group.features, ref_features)
    return report


def _score_group(
    view: Any, partition: str, label: str, features: dict[str, FeatureProfile], reference: list[dict]
) -> list[DriftScore]:
    out = []
    for name, profile in features.items():
        refs = [r[name] for r in reference if name in r]
        metric = "psi" if profile.kind == "numeric" else "js"
        score = psi(refs, profile) if metric == "psi" else js_distance(refs, profile)
        if score is not None:
            out.append(DriftScore(view.name, partition, name, label, metric, score, threshold(view, name, metric)))
    return out


def _null_increase(
    view: Any, partition: str, label: str, features: dict[str, FeatureProfile], reference: list[dict]
) -> list[SliceOutage]:
    allowed = _float_tag(view, "null_rate_increase", DEFAULT_NULL_INCREASE)
    out = []
    for name, profile in features.items():
        refs = [r[name] for r in reference if name in r]
        rows = sum(p.count for p in refs)
        if not rows or not profile.count:
            continue
        ref_rate = sum(p.nulls for p in refs) / rows
        if profile.null_rate - ref_rate > allowed:
            out.append(SliceOutage(view.name, partition, label, name, "nulls", profile.null_rate, ref_rate))
    return out
