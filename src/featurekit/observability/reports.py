"""Rich tables of the freshness and consistency reports, shared by the CLI and the demo."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from featurekit.observability.consistency import ConsistencyReport
from featurekit.observability.freshness import OK, FreshnessReport
from featurekit.repo.slo import format_duration

_STATUS_STYLE = {"ok": "green", "no_slo": "dim", "stale": "red", "no_data": "red", "invalid_slo": "red"}


def print_freshness(report: FreshnessReport, console: Console) -> None:
    table = Table(title=f"freshness ({report.env}, {report.checked_at:%Y-%m-%d %H:%M:%S} UTC)", title_justify="left")
    for column in ("feature view", "schedule", "tier", "SLO", "age", "status", "online/sampled", "detail"):
        table.add_column(column, overflow="fold")
    for v in report.views:
        style = _STATUS_STYLE.get(v.status, "")
        table.add_row(
            v.view,
            v.schedule,
            v.tier,
            format_duration(v.slo),
            format_duration(v.age),
            f"[{style}]{v.status}[/]",
            f"{v.found_online}/{v.sampled}",
            v.detail,
        )
    console.print(table)
    late = report.out_of_slo
    if late:
        console.print(f"[bold red]{len(late)} feature view(s) out of SLO:[/] " + ", ".join(v.view for v in late))
    else:
        console.print(f"[green]all {sum(v.status == OK for v in report.views)} feature view(s) within SLO[/]")


def print_consistency(report: ConsistencyReport, console: Console, max_mismatch_rate: float = 0.0) -> None:
    table = Table(title=f"online/offline consistency ({report.env}, as of {report.as_of:%Y-%m-%d %H:%M:%S} UTC)",
                  title_justify="left")  # fmt: skip
    for column in ("feature view", "sampled", "compared", "mismatched", "rate", "kinds", "excluded", "note"):
        table.add_column(column, overflow="fold")
    for v in report.views:
        bad = v.mismatch_rate > max_mismatch_rate
        table.add_row(
            v.view,
            str(v.sampled),
            str(v.compared),
            str(v.mismatched),
            f"[{'red' if bad else 'green'}]{v.mismatch_rate:.2%}[/]",
            _counts(v.kinds),
            _counts(v.excluded),
            v.note,
        )
    console.print(table)
    for v in report.views:
        for m in v.examples:
            entity = ", ".join(f"{k}={val}" for k, val in m.entity.items())
            diffs = "; ".join(f"{name}: online={_short(a)} offline={_short(b)}" for name, (a, b) in m.features.items())
            console.print(
                f"  [red]{v.view}[/] {entity} [bold]{m.kind}[/] online@{_ts(m.online_event)} "
                f"offline@{_ts(m.offline_event)}: {diffs or 'same values, different event time'}",
                highlight=False,
                soft_wrap=True,
            )
    failing = report.failing(max_mismatch_rate)
    if failing:
        console.print(
            f"[bold red]{len(failing)} feature view(s) over the {max_mismatch_rate:.2%} mismatch budget:[/] "
            + ", ".join(v.view for v in failing)
        )
    else:
        console.print(f"[green]all {len(report.views)} feature view(s) within the {max_mismatch_rate:.2%} budget[/]")


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k}={n}" for k, n in sorted(counts.items())) or "-"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _ts(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"
