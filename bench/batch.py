"""``featurekit bench batch``: the batch pipeline at benchmark scale.

1. **Daily run**: a warehouse of 100k users and ~1M transactions (``--quick``: 10k users); one daily interval of
   every daily-DAG view through the same task bodies the DAG runs (extract -> validate -> materialize), timed per
   phase, with the peak RSS of this process sampled during the run. The previous day is extracted first (untimed)
   so the row-count band has something to compare with. Materialize throughput is compared with the online store's
   own ``write_arrow`` rate on the same rows (the writer's ceiling).
2. **Training data** (:mod:`bench.training`): ``get_historical_features``, stock Feast ``duckdb`` store vs the
   kit's store, each in its own child process (time, best of N, and peak RSS), results compared by hash. Sizes
   (``--sizes``): ``quick`` 10k x 100k (``--quick``'s default), ``1x`` 100k x 1M (the default), ``10x`` 1M x 10M
   (opt-in: ~140 MB of parquet written to disk, 3-10 minutes).

JSON keys: ``daily_run_seconds``, ``peak_rss_mb``, ``historical_speedup`` (stock seconds / ours, first size),
``historical_identical``, ``historical_10x`` (with ``--sizes ...,10x``), ``historical_sizes`` (every size),
``profiling_overhead`` (profiling in extract plus the monitor step, divided by the rest of the daily run; budget
0.15); details alongside.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.report import (
    BarPanel,
    Stopwatch,
    console,
    machine_info,
    plot_panels,
    print_table,
    ratio,
    wait_for_idle,
    write_json,
)

TXN_PER_USER_DAY = 1.2
REPEATS = 3


class PeakRss:
    """Samples this process's RSS in a thread; ``peak_mb`` is the maximum seen."""

    def __init__(self, interval_s: float = 0.05) -> None:
        import psutil

        self._process = psutil.Process()
        self.peak = self._process.memory_info().rss
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            time.sleep(self._interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20


def _settings(data: Path, redis_url: str) -> Any:
    from featurekit.config import load_settings

    return load_settings(
        "local",
        overrides={
            "data_dir": str(data),
            "registry": {"path": str(data / "registry.db")},
            "warehouse": {"path": str(data / "warehouse.duckdb")},
            "offline_store": {"root": str(data / "offline")},
            "online_store": {"tiers": {"hot": {"url": redis_url}, "warm": {"url": redis_url}}},
        },
    )


def daily_run(data: Path, redis_url: str, users: int) -> dict[str, Any]:
    from examples.cash_advance.warehouse import WarehouseSpec, generate
    from featurekit.intervals import DataInterval, floor_to
    from featurekit.online_store.store import TieredRedisOnlineStore
    from featurekit.orchestration import tasks
    from featurekit.pipelines.extract import extract_view
    from featurekit.pipelines.materialize import latest_per_entity
    from featurekit.repo.apply import apply_repo, checked_repo
    from featurekit.repo.feast_config import repo_config
    from featurekit.tags import grain_of
    from featurekit.warehouse.load import load_duckdb

    settings = _settings(data, redis_url)
    end = floor_to(datetime.now(UTC), "daily")
    days = math.ceil(1_000_000 / (100_000 * TXN_PER_USER_DAY))
    spec = WarehouseSpec(users=users, days=days, end=end.replace(tzinfo=None), txn_per_user_day=TXN_PER_USER_DAY)
    with console.status(f"generating the warehouse ({users:,} users, {days} days)"):
        counts = load_duckdb(generate(spec), settings.warehouse.path)
        repo = checked_repo(settings)
        apply_repo(settings, repo)
    views = [v for v in [*repo.batch_views, *repo.stream_views] if grain_of(v) == "daily"]
    interval = DataInterval(end - timedelta(days=1), end)
    previous = DataInterval(end - timedelta(days=2), end - timedelta(days=1))
    for view in views:
        extract_view(settings, view, previous)

    os.environ["FEATUREKIT_DATA_DIR"] = str(data)
    os.environ["FEATUREKIT_REDIS_URL"] = redis_url
    os.environ["FEATUREKIT_ENV"] = "local"
    watch = Stopwatch()
    wait_for_idle()
    started = time.perf_counter()
    with PeakRss() as rss:
        for view in views:
            with watch.phase("extract"):
                tasks.extract(view.name, interval)  # includes profiling the batch views' partitions
            with watch.phase("monitor"):
                tasks.monitor(view.name, interval)  # source check, drift, slices; profiles stream views per hour
            with watch.phase("validate"):
                tasks.validate(view.name, interval)
            with watch.phase("materialize"):
                tasks.materialize(view.name, interval)
    total = time.perf_counter() - started

    # The writer's own rate on the same rows: the ceiling for the materialize phase.
    from featurekit.offline.storage import offline_location

    location = offline_location(settings.offline_store)
    entities, writer_s = 0, 0.0
    for view in views:
        table = location.read_partition(view.name, interval.start.strftime("%Y-%m-%d"))
        latest = latest_per_entity(table, [c.name for c in view.entity_columns])
        t0 = time.perf_counter()
        TieredRedisOnlineStore().write_arrow(repo_config(settings), view, latest)
        writer_s += time.perf_counter() - t0
        entities += latest.num_rows
    # Profiling's share of the extract: the same profile_table call on the same partitions, timed on its own.
    from featurekit.monitoring.profile import profile_table
    from featurekit.tags import schedule_of

    profile_s = 0.0
    for view in views:
        if schedule_of(view) == "stream":
            continue  # profiled inside the monitor phase
        table = location.read_partition(view.name, interval.start.strftime("%Y-%m-%d"))
        runs = []
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            profile_table(view, interval.start.strftime("%Y-%m-%d"), table)
            runs.append(time.perf_counter() - t0)
        profile_s += min(runs)
    monitoring_s = profile_s + watch.phases["monitor"]
    return {
        "users": users,
        "transactions": counts["transactions"],
        "views": [v.name for v in views],
        "profiling": {
            "profile_in_extract_seconds": profile_s,
            "monitor_seconds": watch.phases["monitor"],
            "daily_run_without_monitoring_seconds": total - monitoring_s,
            "overhead": monitoring_s / (total - monitoring_s),
        },
        "seconds": total,
        "phases": watch.phases,
        "peak_rss_mb": rss.peak_mb,
        "materialized_entities": entities,
        "materialize_rows_per_s": entities / watch.phases["materialize"],
        "writer_rows_per_s": entities / writer_s,
    }


def run(
    quick: bool = False,
    json_path: Path | None = None,
    out_dir: Path | None = None,
    sizes: list[str] | None = None,
) -> dict[str, Any]:
    """``sizes``: training-data sizes of :mod:`bench.training` (default ``quick`` with ``--quick``, else ``1x``);
    the first is the headline ``historical``, ``10x`` goes under ``historical_10x``."""
    from bench.training import SIZES, historical
    from featurekit.config import project_root
    from featurekit.services.redis_server import RedisServer

    out_dir = out_dir or project_root() / "bench" / "results"
    users = 10_000 if quick else 100_000
    sizes = sizes or (["quick"] if quick else ["1x"])
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        raise ValueError(f"unknown training-data size(s) {unknown}; choose from {', '.join(SIZES)}")
    hists: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="featurekit-bench-batch-") as tmp, RedisServer.start() as redis:
        console.rule("[bold]daily run")
        daily = daily_run(Path(tmp) / "daily", redis.url, users)
        for size in sizes:
            console.rule(f"[bold]get_historical_features ({size})")
            hists[size] = historical(Path(tmp) / f"historical-{size}", redis.url, size)
            shutil.rmtree(Path(tmp) / f"historical-{size}", ignore_errors=True)  # 10x: ~140 MB of parquet
    hist = hists[sizes[0]]
    entity_rows, feature_rows = hist["entity_rows"], hist["feature_rows"]

    results = {
        "daily_run_seconds": daily["seconds"],
        "profiling_overhead": daily["profiling"]["overhead"],
        "peak_rss_mb": daily["peak_rss_mb"],
        "historical_speedup": hist["speedup"],
        "historical_identical": hist["identical"],
        "quick": quick,
        "daily": daily,
        "historical": hist,
        **({"historical_10x": hists["10x"]} if "10x" in hists else {}),
        "historical_sizes": hists,
        "materialize_vs_writer": ratio(daily["materialize_rows_per_s"], daily["writer_rows_per_s"]),
        "targets": {
            "daily_run_seconds_max": 60,
            "historical_speedup_min": 2.0,
            "historical_10x_speedup_min": 2.0,
            "historical_10x_peak_rss_mb_max": 4096,
            "materialize_vs_writer_min": 0.5,
            "profiling_overhead_max": 0.15,
        },
        "machine": machine_info(),
    }
    print_table(
        f"batch pipeline ({daily['users']:,} users, {daily['transactions']:,} transactions)",
        ["metric", "value"],
        [
            ("daily run seconds (extract+monitor+validate+materialize)", daily["seconds"]),
            *((f"  {k}", v) for k, v in daily["phases"].items()),
            ("  profiling inside extract", daily["profiling"]["profile_in_extract_seconds"]),
            ("profiling + monitor overhead vs the rest of the run", daily["profiling"]["overhead"]),
            ("peak RSS MB", daily["peak_rss_mb"]),
            ("materialize rows/s", daily["materialize_rows_per_s"]),
            ("online writer rows/s (same rows)", daily["writer_rows_per_s"]),
            (f"historical stock duckdb s ({entity_rows:,} x {feature_rows:,})", hist["seconds"]["stock_duckdb"]),
            ("historical featurekit s", hist["seconds"]["featurekit"]),
            ("historical speedup", hist["speedup"]),
            ("historical identical", str(hist["identical"])),
            *(
                row
                for size, h in hists.items()
                for row in (
                    (
                        f"{size}: {h['entity_rows']:,} x {h['feature_rows']:,}: stock / featurekit s",
                        f"{h['seconds']['stock_duckdb']} / {h['seconds']['featurekit']}",
                    ),
                    (f"{size}: speedup, identical", f"{h['speedup']}, {h['identical']}"),
                    (
                        f"{size}: peak RSS MB stock / featurekit",
                        f"{h['peak_rss_mb']['stock_duckdb']} / {h['peak_rss_mb']['featurekit']}",
                    ),
                )
            ),
        ],
    )
    if json_path:
        write_json(json_path, results)
    write_json(out_dir / ("batch-quick.json" if quick else "batch.json"), results)
    plot_panels(
        out_dir / ("batch-quick.png" if quick else "batch.png"),
        "featurekit batch pipeline",
        [
            BarPanel("daily run phases (s)", list(daily["phases"]), {"seconds": list(daily["phases"].values())}),
            BarPanel(
                "get_historical_features (s)",
                ["stock duckdb", "featurekit"],
                {"seconds": [hist["seconds"]["stock_duckdb"], hist["seconds"]["featurekit"]]},
            ),
        ],
    )
    return results
