"""Demo stage: three data breakages injected into a copy of the warehouse and caught by the monitor step.

1. a drifted feature (declared incomes multiplied by 2.5: every value still passes the GX suite's range check);
2. a one-slice outage (incomes null for the users of one small state: the view-wide null rate stays under budget);
3. an empty source (the ``users`` table arrives empty).

Each re-runs extract and monitor for the newest daily interval of ``user_profile`` in a sandbox (a copy of the
warehouse and the offline store under ``<data_dir>/breakages``), so the demo's own data and Redis are untouched,
and prints the alert it raises with the feature services and owners affected.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from typing import Any

import duckdb
from rich.console import Console

from featurekit.config import Settings, load_settings
from featurekit.intervals import DataInterval, utc

VIEW = "user_profile"
SLICE_STATE = "IL"  # ~9% of users: the view-wide null rate rises under its 0.1 budget
BREAKAGES = (
    ("drifted feature", "UPDATE users SET declared_monthly_income = declared_monthly_income * 2.5"),
    ("one-slice outage", f"UPDATE users SET declared_monthly_income = NULL WHERE state = '{SLICE_STATE}'"),
    ("empty source", "DELETE FROM users"),
)


def sandbox(settings: Settings) -> Settings:
    """Settings over a copy of the warehouse and the offline store (profiles and records included)."""
    root = settings.data_dir / "breakages"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    shutil.copyfile(settings.warehouse.path, root / "warehouse.duckdb")
    shutil.copytree(settings.offline_store.root, root / "offline")
    return load_settings(
        settings.env,
        overrides={
            "data_dir": str(root),
            "warehouse": {"path": str(root / "warehouse.duckdb")},
            "offline_store": {"root": str(root / "offline")},
        },
    )


def run_breakage_stage(settings: Settings, console: Console) -> list[dict[str, Any]]:
    """Inject each breakage, run extract + monitor, print what was caught; returns one summary per breakage."""
    from featurekit.monitoring.impact import Lineage, blast_radius
    from featurekit.monitoring.monitor import SourceBrokenError, monitor_view
    from featurekit.monitoring.profile import read_profiles
    from featurekit.offline.parquet import ParquetOfflineStore
    from featurekit.pipelines.extract import extract_view
    from featurekit.repo.loader import load_repo

    if not isinstance(settings.offline_store, ParquetOfflineStore):
        console.print(f"  skipped: the breakage sandbox copies a local offline store, env {settings.env} has none")
        return []
    box = sandbox(settings)
    repo = load_repo(box)
    view = next(v for v in repo.batch_views if v.name == VIEW)
    lineage = Lineage.from_repo(repo)
    newest = read_profiles(box, VIEW)[-1].partition
    start = utc(datetime.fromisoformat(newest))
    interval = DataInterval(start, start + timedelta(days=1))
    impact = blast_radius(lineage, VIEW)
    console.print(f"  re-running {VIEW} ds={newest} in a sandbox ({box.data_dir}) with one breakage at a time")
    caught = []
    with duckdb.connect(str(box.warehouse.path)) as con:
        con.execute("CREATE TABLE users_intact AS SELECT * FROM users")
    for name, statement in BREAKAGES:
        with duckdb.connect(str(box.warehouse.path)) as con:
            con.execute("DELETE FROM users; INSERT INTO users SELECT * FROM users_intact")
            con.execute(statement)
        console.print(f"  [bold]{name}[/]: {statement}")
        extract_view(box, view, interval)
        alerts: list[str] = []
        try:
            report = monitor_view(box, view, interval, lineage)
        except SourceBrokenError as exc:
            alerts.append(f"FeatureSourceBroken (page) {exc}")
        else:
            for o in (o for r in report.drift for o in r.outages):
                alerts.append(f"FeatureSliceOutage (page) {VIEW} {o.describe()}")
            for s in (s for r in report.drift for s in r.drifted if s.slice == "*"):
                alerts.append(
                    f"FeatureDrift (ticket) {VIEW}:{s.feature} {s.metric}={s.score:.2f} > threshold {s.threshold:g}"
                )
        for alert in alerts or ["[red]nothing caught[/]"]:
            console.print(f"    [red]ALERT[/] {alert}", highlight=False, soft_wrap=True)
        console.print(f"    affected: services {', '.join(impact.services)}; owners {', '.join(impact.owners)}",
                      highlight=False)  # fmt: skip
        caught.append({"breakage": name, "alerts": alerts, "services": list(impact.services), "owners": impact.owners})
    return caught
