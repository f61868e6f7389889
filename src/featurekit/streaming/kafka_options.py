"""The ``featurekit-kafka`` source's options and offset arithmetic (pure: no broker, no Spark).

Offsets are ``{"topic": {"partition": next_offset}}`` dicts, the JSON form Spark keeps in the checkpoint. Partitions
are always listed in (topic, numeric partition) order: Spark compares two offsets by their JSON text, so the same
position must always serialize the same way, or an empty micro-batch would run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

FORMAT_NAME = "featurekit-kafka"
EARLIEST, LATEST = -2, -1

Offsets = dict[str, dict[str, int]]


class KafkaSourceError(RuntimeError):
    """The source was configured wrongly or could not read a planned offset range; the message says which."""


@dataclass(frozen=True)
class SourceOptions:
    """The data source options, validated once on the driver.

    ``ending``: offsets a query stops at (``endingOffsets``). Spark 4.0 gives Python sources neither admission control
    nor available-now support, so the kit runs an available-now query on a processing-time trigger up to offsets
    fixed at its start (:mod:`featurekit.streaming.available_now`); this option carries them to the reader.
    """

    client: dict[str, str]
    topics: tuple[str, ...]
    starting: str
    max_offsets_per_trigger: int | None
    probe_timeout_s: float
    fetch_timeout_s: float
    ending: Offsets | None = None

    @classmethod
    def parse(cls, options: dict[str, str]) -> SourceOptions:
        opts = {k.lower(): v for k, v in options.items()}
        client = {k[len("kafka.") :]: v for k, v in options.items() if k.lower().startswith("kafka.")}
        if "bootstrap.servers" not in client:
            raise KafkaSourceError(f"{FORMAT_NAME}: option 'kafka.bootstrap.servers' is required")
        if "assign" in opts or "subscribepattern" in opts:
            raise KafkaSourceError(f"{FORMAT_NAME}: only the 'subscribe' option is supported (got assign/pattern)")
        topics = tuple(t.strip() for t in opts.get("subscribe", "").split(",") if t.strip())
        if not topics:
            raise KafkaSourceError(f"{FORMAT_NAME}: option 'subscribe' (comma-separated topics) is required")
        limit = opts.get("maxoffsetspertrigger")
        try:
            max_offsets = int(limit) if limit not in (None, "") else None
        except ValueError:
            raise KafkaSourceError(f"{FORMAT_NAME}: maxOffsetsPerTrigger={limit!r} is not an integer") from None
        if max_offsets is not None and max_offsets <= 0:
            raise KafkaSourceError(f"{FORMAT_NAME}: maxOffsetsPerTrigger must be positive, got {max_offsets}")
        starting = opts.get("startingoffsets", "latest").strip()
        if starting not in ("earliest", "latest"):
            parse_json_offsets(starting, "startingOffsets")  # fail on the driver, at start, if malformed
        ending_text = opts.get("endingoffsets", "").strip()
        ending = parse_json_offsets(ending_text, "endingOffsets") if ending_text not in ("", "latest") else None
        return cls(
            client=client,
            topics=topics,
            starting=starting,
            max_offsets_per_trigger=max_offsets,
            probe_timeout_s=float(opts.get("featurekit.probetimeoutseconds", "5")),
            fetch_timeout_s=float(opts.get("featurekit.fetchtimeoutseconds", "300")),
            ending=ending,
        )

    def consumer_config(self, **extra: Any) -> dict[str, Any]:
        # group.id is required by librdkafka even with assign(); nothing joins or commits with it.
        return {
            "group.id": "featurekit-kafka-source",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": 50,
            "log_level": 3,
            **self.client,
            **extra,
        }


def parse_json_offsets(text: str, option: str = "startingOffsets") -> Offsets:
    try:
        raw = json.loads(text)
        return {str(t): {str(p): int(o) for p, o in parts.items()} for t, parts in raw.items()}
    except (ValueError, AttributeError, TypeError) as exc:
        raise KafkaSourceError(
            f"{FORMAT_NAME}: {option} must be 'earliest', 'latest' or JSON like "
            f'{{"topic": {{"0": 42, "1": -2}}}}; got {text!r}: {exc}'
        ) from exc


def nested(flat: dict[tuple[str, int], int]) -> Offsets:
    out: Offsets = {}
    for (topic, p), offset in sorted(flat.items()):
        out.setdefault(topic, {})[str(p)] = offset
    return out


def flat(offsets: dict) -> dict[tuple[str, int], int]:
    return {(t, int(p)): int(o) for t, parts in offsets.items() for p, o in parts.items()}


def cap(ends: Offsets, start: dict, target: Offsets) -> Offsets:
    """``ends`` held at ``target`` (where it names the partition), never behind ``start``."""
    out: Offsets = {}
    for t, parts in ends.items():
        for p, o in parts.items():
            stop = min(o, target.get(t, {}).get(p, o))
            out.setdefault(t, {})[p] = max(stop, start.get(t, {}).get(p, stop))
    return out


def limit(start: dict, ends: Offsets, max_rows: int) -> Offsets:
    """Spread ``max_rows`` over partitions in proportion to their lag, as Spark's Kafka source does."""
    lags = {(t, p): o - start.get(t, {}).get(p, o) for t, parts in ends.items() for p, o in parts.items()}
    total = sum(max(v, 0) for v in lags.values())
    if total <= max_rows:
        return ends
    out: Offsets = {}
    for (topic, p), lag in lags.items():
        begin = start.get(topic, {}).get(p, ends[topic][p])
        share = int(max_rows * max(lag, 0) / total) if lag > 0 else 0
        out.setdefault(topic, {})[p] = begin + max(share, 1 if lag > 0 else 0)
    return out


def covers(position: dict, target: Offsets) -> bool:
    """Whether ``position`` is at or past ``target`` on every partition ``target`` names with data."""
    return all(
        int(position.get(t, {}).get(p, 0)) >= o for t, parts in target.items() for p, o in parts.items() if o > 0
    )
