"""``featurekit drift``'s output: a table of the newest partition's drift and outages, and a PNG of the worst
features' drift over time (score divided by threshold, so every feature's alert line is at 1.0)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from featurekit.monitoring.drift import DriftReport, DriftScore
from featurekit.monitoring.impact import BlastRadius


def print_drift(reports: dict[str, list[DriftReport]], console: Console, *, top: int = 10) -> None:
    """One table over all views: the newest partition's worst scores (all rows and slices), then outages."""
    table = Table(title="feature drift (newest partition vs its reference)", title_justify="left")
    for column in ("feature view", "partition", "feature", "slice", "metric", "score", "threshold", "status"):
        table.add_column(column, overflow="fold")
    outages = []
    for view, history in reports.items():
        if not history:
            table.add_row(view, "-", "-", "-", "-", "-", "-", "[dim]no profiles[/]")
            continue
        newest = history[-1]
        outages += newest.outages
        if not newest.reference:
            table.add_row(view, newest.partition, "-", "-", "-", "-", "-", "[dim]no reference yet[/]")
            continue
        worst = sorted(newest.scores, key=lambda s: s.score / s.threshold, reverse=True)[:top]
        for s in worst:
            status = "[bold red]drifted[/]" if s.drifted else "[green]ok[/]"
            table.add_row(view, s.partition, s.feature, s.slice, s.metric, f"{s.score:.3f}", f"{s.threshold:g}", status)
    console.print(table)
    for o in outages:
        console.print(f"[bold red]slice outage[/] {o.view} ds={o.partition}: {o.describe()}", highlight=False)
    drifted = sum(len(h[-1].drifted) for h in reports.values() if h)
    if not drifted and not outages:
        console.print("[green]no drift over threshold and no slice outage in the newest partitions[/]")


def plot_drift(reports: dict[str, list[DriftReport]], path: Path, *, worst: int = 6) -> Path:
    """Lines of score/threshold over partitions for the ``worst`` features of the newest partitions (each with its
    worst slice, or all rows), with the alert line at 1.0."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[tuple[str, str, str], list[DriftScore]] = {}
    for history in reports.values():
        for report in history:
            for s in report.scores:
                series.setdefault((s.view, s.feature, s.slice), []).append(s)
    newest = {v: h[-1].partition for v, h in reports.items() if h}

    def now(kv: tuple[tuple[str, str, str], list[DriftScore]]) -> float:
        return max((s.score / s.threshold for s in kv[1] if s.partition == newest.get(kv[0][0])), default=0.0)

    ranked, seen = [], set()
    for key, scores in sorted(series.items(), key=now, reverse=True):
        if (key[0], key[1]) not in seen:  # one line per feature: its worst slice (or all rows)
            seen.add((key[0], key[1]))
            ranked.append((key, scores))
    ranked = ranked[:worst]
    fig, ax = plt.subplots(figsize=(10, 4.8))
    for (view, feature, slice_), scores in ranked:
        ax.plot([s.partition for s in scores], [s.score / s.threshold for s in scores], marker="o",
                label=f"{view}:{feature}" + ("" if slice_ == "*" else f" [{slice_}]"))  # fmt: skip
    ax.axhline(1.0, color="red", linestyle="--", linewidth=1, label="threshold")
    ax.set_ylabel("drift / threshold")
    ax.set_xlabel("partition")
    ax.set_title("worst features: drift against their reference over time")
    ax.tick_params(axis="x", rotation=45)
    ax.legend(fontsize="small", loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def print_impact(radius: BlastRadius, console: Console) -> None:
    table = Table(title=f"blast radius of {radius.target}", title_justify="left")
    for column in ("kind", "name", "owner"):
        table.add_column(column)
    for t in radius.tables:
        table.add_row("upstream table", t, "-")
    for view, owner in radius.views.items():
        table.add_row("feature view", view, owner or "-")
    for service, owner in radius.services.items():
        table.add_row("feature service", service, owner or "-")
    console.print(table)
    console.print(f"owners to notify: {', '.join(radius.owners) or '-'}", highlight=False)
