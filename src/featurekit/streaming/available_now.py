"""Available-now runs over the ``featurekit-kafka`` source on Spark 4.0: read up to offsets fixed at start, then stop.

Spark's ``trigger(availableNow=True)`` splits a backlog into ``maxOffsetsPerTrigger``-sized micro-batches only for
sources with admission control. Spark 4.0 (EMR Serverless ``emr-spark-8.0.0``) gives Python data sources none: it
would read the whole backlog in one micro-batch. So for this source the application fixes the topic's end offsets
when it starts (:func:`ending_offsets`), passes them to the reader as ``endingOffsets``, runs the query on a
processing-time trigger (each micro-batch bounded by ``maxOffsetsPerTrigger``) and stops it once its progress shows
those offsets read (:func:`reached`). Spark's own ``kafka`` source keeps the native trigger.
"""

from __future__ import annotations

import json
import time
from typing import Any

from featurekit.config.settings import Settings
from featurekit.streaming.kafka_options import FORMAT_NAME, Offsets, SourceOptions, covers
from featurekit.streaming.kafka_probe import BrokerUnavailable, OffsetProbe
from featurekit.streaming.session import kafka_options


def emulated(settings: Settings) -> bool:
    """Whether available-now runs are emulated (the kit's Python source) rather than Spark's native trigger."""
    return settings.streaming.source_format == FORMAT_NAME


def ending_offsets(settings: Settings, topic: str, *, timeout_s: float = 120.0) -> Offsets:
    """The end of every partition of ``topic`` now; waits (up to ``timeout_s``) while the broker is unreachable."""
    probe = OffsetProbe(SourceOptions.parse(kafka_options(settings, topic)))
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                return probe.all_end_offsets()
            except BrokerUnavailable as exc:
                if time.monotonic() > deadline:
                    raise BrokerUnavailable(
                        f"available-now run of topic {topic!r}: Kafka at {settings.kafka.bootstrap_servers} did not "
                        f"answer within {timeout_s:.0f}s ({exc})"
                    ) from exc
                time.sleep(1.0)
    finally:
        probe.close()


def reached(progress: Any, target: Offsets) -> bool:
    """Whether a query's last progress report shows every offset of ``target`` read (and committed)."""
    if progress is None:
        return False
    data = json.loads(progress.json) if hasattr(progress, "json") else dict(progress)
    sources = data.get("sources") or []
    if not sources:
        return False
    end = sources[0].get("endOffset")
    if isinstance(end, str):
        end = json.loads(end) if end.startswith("{") else {}
    return covers(end or {}, target)
