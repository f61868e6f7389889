"""Online/offline consistency: does the online store serve what the offline store says is the latest value?

Training reads the offline store point-in-time; serving reads the online store. When the two disagree a model is
served data it was never trained on (training/serving skew), so the check samples entities, reads both sides as of
the same moment and the same ttl, and reports the mismatch rate per feature view with examples.

What is not a mismatch, so the rate stays a signal:

* batch partitions newer than the view's last materialization record (extracted, not yet materialized);
* for stream views, rows newer than ``stream_grace`` on either side (the stream writes online and to the offline
  sink in the same micro-batch, so they briefly differ);
* rows within a minute of the ttl cut-off (one side's clock read may expire them, the other's not).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from featurekit.config.settings import Settings
from featurekit.intervals import utc
from featurekit.observability.offline_latest import join_keys, latest_rows, offline_window, view_ttl
from featurekit.observability.online_reads import read_online
from featurekit.observability.registry_views import deployed_views
from featurekit.offline.layout import TIMESTAMP_FIELD
from featurekit.offline.records import latest_record
from featurekit.tags import schedule_of

DEFAULT_SAMPLE = 200
DEFAULT_STREAM_GRACE = timedelta(minutes=10)
TTL_BOUNDARY = timedelta(minutes=1)

# Kinds of mismatch, worst first in reports.
VALUE = "value"  # same event timestamp, different values
ONLINE_NEWER = "online_newer"  # the online store holds a row the offline store does not have
ONLINE_OLDER = "online_older"  # a materialized offline row never reached (or was overwritten in) the online store
MISSING_ONLINE = "missing_online"
MISSING_OFFLINE = "missing_offline"


@dataclass(frozen=True)
class Mismatch:
    """One entity whose online row differs from the offline point-in-time latest row."""

    entity: dict[str, Any]
    kind: str
    online_event: datetime | None
    offline_event: datetime | None
    features: dict[str, tuple[Any, Any]]  # name -> (online, offline), only the features that differ

    def to_dict(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "kind": self.kind,
            "online_event": self.online_event.isoformat() if self.online_event else None,
            "offline_event": self.offline_event.isoformat() if self.offline_event else None,
            "features": {k: {"online": _jsonable(a), "offline": _jsonable(b)} for k, (a, b) in self.features.items()},
        }


@dataclass(frozen=True)
class ViewConsistency:
    view: str
    sampled: int
    compared: int
    matched: int
    kinds: dict[str, int]
    excluded: dict[str, int]
    examples: list[Mismatch]
    note: str = ""

    @property
    def mismatched(self) -> int:
        return sum(self.kinds.values())

    @property
    def mismatch_rate(self) -> float:
        return self.mismatched / self.compared if self.compared else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "view": self.view,
            "sampled": self.sampled,
            "compared": self.compared,
            "matched": self.matched,
            "mismatched": self.mismatched,
            "mismatch_rate": self.mismatch_rate,
            "kinds": self.kinds,
            "excluded": self.excluded,
            "examples": [m.to_dict() for m in self.examples],
            "note": self.note,
        }


@dataclass(frozen=True)
class ConsistencyReport:
    env: str
    as_of: datetime
    views: list[ViewConsistency] = field(default_factory=list)

    def failing(self, max_mismatch_rate: float = 0.0) -> list[ViewConsistency]:
        return [v for v in self.views if v.mismatch_rate > max_mismatch_rate]

    def to_dict(self) -> dict[str, Any]:
        return {"env": self.env, "as_of": self.as_of.isoformat(), "views": [v.to_dict() for v in self.views]}


def check_consistency(
    settings: Settings,
    views: Iterable[Any] | None = None,
    *,
    sample: int = DEFAULT_SAMPLE,
    seed: int | None = None,
    stream_grace: timedelta = DEFAULT_STREAM_GRACE,
    max_examples: int = 5,
) -> ConsistencyReport:
    """Compare ``sample`` random entities per view (all online views when ``views`` is None) as of now.

    Raises the same expected errors as :func:`featurekit.observability.freshness.check_freshness`; mismatches are
    results. Updates the ``featurekit_consistency_*`` gauges."""
    from featurekit.metrics import CONSISTENCY_COMPARED_ENTITIES, CONSISTENCY_MISMATCH_RATIO

    deployed = deployed_views(settings)
    chosen = deployed.select(views)
    as_of = datetime.now(UTC)
    rng = random.Random(seed)
    results = []
    for view in chosen:
        result = _check_view(settings, deployed.config, view, as_of, sample, rng, stream_grace, max_examples)
        CONSISTENCY_MISMATCH_RATIO.labels(view.name).set(result.mismatch_rate)
        CONSISTENCY_COMPARED_ENTITIES.labels(view.name).set(result.compared)
        results.append(result)
    return ConsistencyReport(env=settings.env, as_of=as_of, views=results)


def _check_view(
    settings: Settings,
    config: Any,
    view: Any,
    as_of: datetime,
    sample: int,
    rng: random.Random,
    stream_grace: timedelta,
    max_examples: int,
) -> ViewConsistency:
    stream = schedule_of(view) == "stream"
    record = None if stream else latest_record(settings, view.name)
    through = record.partition if record is not None else None
    window = offline_window(settings, view, as_of, through_partition=through)
    note = f"offline rows through ds={through} (last materialization record)" if through else ""
    keys = join_keys(view)
    population = window.entities(keys)
    if population.num_rows == 0:
        return ViewConsistency(view.name, 0, 0, 0, {}, {}, [], note=(note + "; " if note else "") + "no offline rows "
                               "within the ttl window to sample")  # fmt: skip
    picked = sorted(rng.sample(range(population.num_rows), min(sample, population.num_rows)))
    entity_table = population.take(pa.array(picked, type=pa.int64()))
    entities = entity_table.to_pylist()
    offline = _by_entity(latest_rows(window, view, entity_table), keys)
    online = read_online(config, view, entities)
    # Registry copies of stream views list the join key among their features; it is the key, not a value.
    features = [f.name for f in view.features if f.name not in keys]
    ttl = view_ttl(view)
    grace_from = as_of - stream_grace if stream else None

    kinds: Counter[str] = Counter()
    excluded: Counter[str] = Counter()
    examples: list[Mismatch] = []
    matched = 0
    for entity, (online_event, online_values) in zip(entities, online, strict=True):
        off = offline.get(tuple(entity[k] for k in keys))
        off_event = utc(off[TIMESTAMP_FIELD]) if off is not None else None
        on_event = utc(online_event) if online_values is not None and online_event is not None else None
        if on_event is None and off_event is None:
            excluded["absent_both"] += 1
            continue
        newest = max(e for e in (on_event, off_event) if e is not None)
        if grace_from is not None and newest >= grace_from and on_event != off_event:
            excluded["in_flight"] += 1
            continue
        if ttl is not None and on_event is None and off_event is not None and off_event < as_of - ttl + TTL_BOUNDARY:
            excluded["expiring"] += 1
            continue
        diff = _differences(features, online_values, off)
        kind = _kind(on_event, off_event, diff)
        if kind is None:
            matched += 1
            continue
        kinds[kind] += 1
        if len(examples) < max_examples:
            examples.append(Mismatch(entity, kind, on_event, off_event, diff))
    compared = matched + sum(kinds.values())
    return ViewConsistency(view.name, len(entities), compared, matched, dict(kinds), dict(excluded), examples, note)


def _kind(on_event: datetime | None, off_event: datetime | None, diff: dict[str, Any]) -> str | None:
    if on_event is None:
        return MISSING_ONLINE
    if off_event is None:
        return MISSING_OFFLINE
    if on_event > off_event:
        return ONLINE_NEWER
    if on_event < off_event:
        return ONLINE_OLDER
    return VALUE if diff else None


def _by_entity(table: pa.Table | None, keys: list[str]) -> dict[tuple[Any, ...], dict[str, Any]]:
    if table is None:
        return {}
    return {tuple(row[k] for k in keys): row for row in table.to_pylist()}


def _differences(
    features: list[str], online: dict[str, Any] | None, offline: dict[str, Any] | None
) -> dict[str, tuple[Any, Any]]:
    out = {}
    for name in features:
        a = online.get(name) if online is not None else None
        b = offline.get(name) if offline is not None else None
        if not _same(a, b):
            out[name] = (a, b)
    return out


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        try:
            fa, fb = float(a), float(b)
        except (TypeError, ValueError):
            return False
        return (math.isnan(fa) and math.isnan(fb)) or math.isclose(fa, fb, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, datetime) and isinstance(b, datetime):
        return utc(a) == utc(b)
    return a == b


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value
