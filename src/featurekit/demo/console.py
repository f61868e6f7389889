"""The demo's closing lines: where its output went and what to look at next."""

from __future__ import annotations

import os
from pathlib import Path

from rich.console import Console
from rich.table import Table

from featurekit.config import Settings


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is inside it (shorter, copy-pasteable)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def print_next_steps(settings: Settings, console: Console, log_path: Path) -> None:
    """A short table of where to look next: the log, the data, the catalog, the server, metrics and dashboards."""
    env = f" --env {settings.env}"
    redis_hint = "" if os.environ.get("FEATUREKIT_REDIS_URL") else "FEATUREKIT_REDIS_URL=redis://HOST:PORT/0 "
    table = Table(title="where to look next", show_header=False, title_justify="left", box=None, padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("logs", f"{_shown(log_path)} (Spark, Airflow, Kafka client and Feast warnings of this run)")
    table.add_row("data", f"{_shown(settings.data_dir)} (warehouse, offline store, registry, Airflow home)")
    table.add_row("catalog", f".venv/bin/featurekit catalog{env} --out build/catalog  ->  build/catalog/index.html")
    table.add_row(
        "serve",
        f"{redis_hint}.venv/bin/featurekit serve{env}  ->  POST http://127.0.0.1:6566/get-online-features "
        "(the demo's own Redis stops with it: point FEATUREKIT_REDIS_URL at a running one, then rerun the demo)",
    )
    table.add_row(
        "metrics",
        "GET http://127.0.0.1:6566/metrics of the server; freshness and consistency gauges in "
        f"{_shown(settings.data_dir / 'metrics')}",
    )
    table.add_row("dashboards", "ops/grafana/featurekit-overview.json, alert rules ops/prometheus/featurekit-rules.yml")
    table.add_row("checks", f".venv/bin/featurekit freshness{env} | consistency{env}")
    console.print(table)
