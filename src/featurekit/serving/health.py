"""Redis reachability for ``/health``, probed in the background so the endpoint never waits on Redis.

A thread PINGs every tier the server reads (one probe per distinct Redis server) every ``interval_s``; ``/health``
returns the last outcome instantly. A hung Redis therefore shows up as ``"unavailable"`` within one probe timeout
(the tier's ``socket_timeout_s``) while the endpoint keeps answering in microseconds.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from featurekit.metrics import SERVING_REDIS_UP

logger = logging.getLogger(__name__)


class RedisHealth:
    """Last known state of each tier's Redis (``"unknown"`` before the first probe)."""

    def __init__(self, tiers: dict[str, Any], interval_s: float) -> None:
        self.tiers = tiers
        self.interval_s = interval_s
        self.state: dict[str, dict[str, Any]] = {name: {"status": "unknown"} for name in tiers}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="featurekit-redis-health", daemon=True)

    @classmethod
    def for_reader(cls, reader: Any, interval_s: float) -> RedisHealth:
        """Probe every configured tier of the reader's store (tiers without a URL are reported as such)."""
        tiers: dict[str, Any] = {}
        for name in reader.store_config.tiers:
            try:
                tiers[name] = reader.store.tier(reader.store_config, name)
            except Exception as exc:  # a tier no view uses may have no URL
                tiers[name] = exc
        return cls(tiers, interval_s)

    def start(self) -> None:
        if not self._thread.is_alive():
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def probe(self) -> None:
        """PING each tier once (tiers on the same server share one probe) and record the outcome."""
        seen: dict[Any, dict[str, Any]] = {}
        for name, tier in self.tiers.items():
            if isinstance(tier, Exception):
                self.state[name] = {"status": "not configured", "error": str(tier)}
                continue
            st = tier.settings
            server = (st.host, st.port, st.db, st.tls)
            if server not in seen:
                started = time.perf_counter()
                try:
                    tier.command("PING")
                    seen[server] = {"status": "ok", "ping_ms": round((time.perf_counter() - started) * 1000, 3)}
                except Exception as exc:
                    seen[server] = {"status": "unavailable", "error": str(exc)}
            self.state[name] = seen[server]
            SERVING_REDIS_UP.labels(name).set(1 if seen[server]["status"] == "ok" else 0)

    def snapshot(self) -> dict[str, Any]:
        """``{"status": "ok" | "degraded" | "starting", "redis": {tier: {...}}}`` from the last probes (never
        blocks): ``degraded`` while a tier is unavailable, ``starting`` until every tier has been probed once."""
        state = dict(self.state)
        statuses = {s["status"] for s in state.values()}
        overall = "degraded" if "unavailable" in statuses else "starting" if "unknown" in statuses else "ok"
        return {"status": overall, "redis": state}

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.probe()
            except Exception:
                logger.exception("Redis health probe failed")
            self._stop.wait(self.interval_s)
