"""The result of a fast-path read, in Feast's shapes.

Values are kept as plain Python lists per output column (what the decoder produces), so ``to_dict`` is a dict of
references, and the HTTP JSON is built without any protobuf round trip. Per-row presence and event times are
stored once per feature view and shared by its columns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

TIMESTAMP_POSTFIX = "__ts"  # Feast's OnlineResponse.to_dict(include_event_timestamps=True) suffix
_EPOCH_STR = "1970-01-01T00:00:00Z"


@dataclass
class ColumnMeta:
    """Presence and event time (µs) per row for a group of columns (one feature view, or entity/request data)."""

    present: list[bool] | None  # None = every row present (entity columns, on-demand features)
    event_us: list[int | None] | None
    invalid: dict[int, str] = field(default_factory=dict)  # row -> decode error
    view: str | None = None


@dataclass
class OnlineFeaturesResult:
    """Feature values for a batch of entity rows, in the order Feast returns them."""

    names: list[str]
    values: list[list[Any]]
    metas: list[ColumnMeta]
    include_event_timestamps: bool = False
    json_fix: list[bool] | None = None  # per column: values need JSON conversion (NaN/inf, bytes, datetimes)
    read_at_us: int = field(default_factory=lambda: time.time_ns() // 1000)

    @property
    def row_count(self) -> int:
        return len(self.values[0]) if self.values else 0

    def to_dict(self, include_event_timestamps: bool | None = None) -> dict[str, list[Any]]:
        """``{column: [values...]}`` like Feast's ``OnlineResponse.to_dict``; with event timestamps, each feature
        column is followed by ``<name>__ts`` holding epoch seconds (0 when not found), as Feast does."""
        with_ts = self.include_event_timestamps if include_event_timestamps is None else include_event_timestamps
        if not with_ts:
            return dict(zip(self.names, self.values, strict=True))
        out: dict[str, list[Any]] = {}
        for name, values, meta in zip(self.names, self.values, self.metas, strict=True):
            out[name] = values
            out[name + TIMESTAMP_POSTFIX] = _seconds(meta, len(values))
        return out

    def event_timestamps(self) -> dict[str, list[datetime | None]]:
        """Event time of each feature view's row per entity (``None`` when not found)."""
        out: dict[str, list[datetime | None]] = {}
        for meta in self.metas:
            if meta.view and meta.view not in out and meta.event_us is not None:
                out[meta.view] = [datetime.fromtimestamp(u / 1e6, tz=UTC) if u else None for u in meta.event_us]
        return out

    def ages_seconds(self) -> dict[str, list[float | None]]:
        """Age of each feature view's row at read time, in seconds (``None`` when not found)."""
        out: dict[str, list[float | None]] = {}
        for meta in self.metas:
            if meta.view and meta.view not in out and meta.event_us is not None:
                out[meta.view] = [(self.read_at_us - u) / 1e6 if u else None for u in meta.event_us]
        return out

    def errors(self) -> list[dict[str, Any]]:
        """Rows whose stored bytes could not be decoded: ``{"feature_view", "row", "error"}``."""
        seen: set[int] = set()
        out = []
        for meta in self.metas:
            if id(meta) in seen:
                continue
            seen.add(id(meta))
            for row, message in meta.invalid.items():
                out.append({"feature_view": meta.view, "row": row, "error": message})
        return out

    def to_feast_json(self) -> dict[str, Any]:
        """The body of Feast's ``/get-online-features`` response (``metadata.feature_names`` + ``results``)."""
        results = []
        cache: dict[int, tuple[list[str], list[str]]] = {}
        fix = self.json_fix or [True] * len(self.values)
        for values, meta, needs_fix in zip(self.values, self.metas, fix, strict=True):
            key = id(meta)
            if key not in cache:
                cache[key] = (_statuses(meta, len(values)), _timestamp_strings(meta, len(values)))
            statuses, stamps = cache[key]
            out_values = _json_values(values) if needs_fix else values
            results.append({"values": out_values, "statuses": statuses, "event_timestamps": stamps})
        return {"metadata": {"feature_names": self.names}, "results": results}


def _seconds(meta: ColumnMeta, n: int) -> list[int]:
    if meta.event_us is None:
        return [0] * n
    return [u // 1_000_000 if u else 0 for u in meta.event_us]


def _statuses(meta: ColumnMeta, n: int) -> list[str]:
    if meta.present is None:
        return ["PRESENT"] * n
    out = ["PRESENT" if p else "NOT_FOUND" for p in meta.present]
    for row in meta.invalid:
        out[row] = "INVALID"
    return out


def _timestamp_strings(meta: ColumnMeta, n: int) -> list[str]:
    if meta.event_us is None:
        return [_EPOCH_STR] * n
    cache: dict[int, str] = {}
    out = []
    for u in meta.event_us:
        if not u:
            out.append(_EPOCH_STR)
            continue
        s = cache.get(u)
        if s is None:
            s = _rfc3339(u)
            cache[u] = s
        out.append(s)
    return out


def _rfc3339(us: int) -> str:
    """Feast's adaptive precision: no fraction, milliseconds or microseconds, with a ``Z`` suffix."""
    seconds, micros = divmod(us, 1_000_000)
    base = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if micros == 0:
        return base + "Z"
    if micros % 1000 == 0:
        return f"{base}.{micros // 1000:03d}Z"
    return f"{base}.{micros:06d}Z"


def _json_values(values: list[Any]) -> list[Any]:
    """JSON-safe values as Feast's server sends them: NaN/Infinity as strings, bytes as base64."""
    for v in values:
        if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
            break
        if isinstance(v, bytes | datetime):
            break
    else:
        return values
    import base64

    out: list[Any] = []
    for v in values:
        if isinstance(v, float):
            if v != v:
                v = "NaN"
            elif v == float("inf"):
                v = "Infinity"
            elif v == float("-inf"):
                v = "-Infinity"
        elif isinstance(v, bytes):
            v = base64.b64encode(v).decode("ascii")
        elif isinstance(v, datetime):
            v = int(v.timestamp())
        out.append(v)
    return out
