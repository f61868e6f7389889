"""Shared benchmark helpers: quiet-machine gate, timing, percentiles, ratios, rich tables, JSON and PNG output.

Every benchmark (online, batch, stream) reports through these so numbers are computed and shown the same way.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console(width=max(120, Console().width))
BUSY_WARNINGS: list[float] = []  # idle shares of phases that had to start on a busy machine (reported in JSON)


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on."""
    import psutil

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
    }


# How long a timed phase waits for an idle machine (``featurekit bench ... --idle-timeout``); one value per bench run.
IDLE_TIMEOUT_S = 30.0


def set_idle_timeout(seconds: float) -> None:
    """Set :data:`IDLE_TIMEOUT_S` for this bench run (the CLI's ``--idle-timeout``)."""
    global IDLE_TIMEOUT_S
    if seconds <= 0:
        raise ValueError(f"--idle-timeout must be positive, got {seconds}")
    IDLE_TIMEOUT_S = seconds


def wait_for_idle(min_idle: float = 0.85, timeout_s: float | None = None, sample_s: float = 0.5) -> float:
    """Wait until the CPUs are at least ``min_idle`` idle (other load distorts timings); returns the idle share
    seen last. Gives up after ``timeout_s`` and says so, rather than blocking a run forever."""
    import psutil

    if timeout_s is None:
        timeout_s = IDLE_TIMEOUT_S
    deadline = time.monotonic() + timeout_s
    idle = 0.0
    while True:
        idle = 1.0 - psutil.cpu_percent(interval=sample_s) / 100.0
        if idle >= min_idle:
            return idle
        if time.monotonic() > deadline:
            console.print(f"[yellow]machine still busy ({idle:.0%} idle) after {timeout_s:.0f} s; measuring anyway[/]")
            BUSY_WARNINGS.append(idle)
            return idle
        time.sleep(0.2)


def percentiles_ms(samples_s: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/mean/max of samples given in seconds, in milliseconds (nearest-rank percentiles)."""
    if not samples_s:
        return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan"), "mean": float("nan"), "n": 0}
    ordered = sorted(samples_s)
    n = len(ordered)

    def rank(q: float) -> float:  # nearest rank: the smallest sample with at least q of the samples <= it
        return ordered[min(n - 1, max(0, math.ceil(q * n - 1e-9) - 1))] * 1000

    return {
        "p50": rank(0.50),
        "p95": rank(0.95),
        "p99": rank(0.99),
        "mean": sum(ordered) / n * 1000,
        "max": ordered[-1] * 1000,
        "n": n,
    }


def time_calls(fn: Callable[[int], Any], iterations: int, *, warmup: int = 5) -> list[float]:
    """Run ``fn(i)`` ``warmup`` + ``iterations`` times; return the timed durations (seconds)."""
    for i in range(warmup):
        fn(i)
    out = []
    perf = time.perf_counter
    for i in range(iterations):
        t0 = perf()
        fn(i)
        out.append(perf() - t0)
    return out


def time_interleaved(
    fns: dict[str, Callable[[int], Any]], iterations: int, *, warmup: int = 5
) -> dict[str, list[float]]:
    """Time several functions call by call in rotation (a, b, c, a, b, c, ...), so a noisy moment on a shared
    machine hits every series alike instead of one whole series; returns durations (seconds) per name."""
    for i in range(warmup):
        for fn in fns.values():
            fn(i)
    out: dict[str, list[float]] = {name: [] for name in fns}
    perf = time.perf_counter
    items = list(fns.items())
    for i in range(iterations):
        for name, fn in items:
            t0 = perf()
            fn(i)
            out[name].append(perf() - t0)
    return out


def ratio(numerator: float, denominator: float) -> float:
    return float("nan") if not denominator else numerator / denominator


@contextmanager
def progress(description: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
    """A rich progress bar for a long phase; yields ``advance(n)``."""
    with Progress(
        TextColumn("[bold blue]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)


@dataclass
class Stopwatch:
    """Named wall-clock phases (seconds)."""

    phases: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.phases[name] = self.phases.get(name, 0.0) + time.perf_counter() - t0


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*[_fmt(v) for v in row])
    console.print(table)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value != value:
            return "-"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    return str(value)


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False, default=float) + "\n")


@dataclass
class BarPanel:
    """One chart panel: groups on the x axis, one bar per series."""

    title: str
    groups: list[str]
    series: dict[str, list[float]]
    ylabel: str = ""
    log: bool = False


def plot_panels(path: Path, title: str, panels: Sequence[BarPanel]) -> None:
    """Save grouped bar charts side by side as a PNG (matplotlib, Agg backend: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.4))
    if len(panels) == 1:
        axes = [axes]
    for ax, panel in zip(axes, panels, strict=True):
        n_series = len(panel.series)
        width = 0.8 / max(1, n_series)
        for i, (name, values) in enumerate(panel.series.items()):
            xs = [g + (i - (n_series - 1) / 2) * width for g in range(len(panel.groups))]
            bars = ax.bar(xs, values, width, label=name)
            ax.bar_label(bars, labels=[_fmt(v) for v in values], fontsize=7, rotation=90, padding=2)
        ax.set_xticks(range(len(panel.groups)), panel.groups, fontsize=8)
        ax.set_title(panel.title, fontsize=10)
        ax.set_ylabel(panel.ylabel, fontsize=8)
        if panel.log:
            ax.set_yscale("log")
        ax.margins(y=0.25)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
