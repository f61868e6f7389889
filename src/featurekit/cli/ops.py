"""``featurekit freshness``, ``featurekit consistency`` and ``featurekit catalog``: operating the platform.

Exit codes, for Airflow tasks and scripts: 0 all good, 2 checked but out of SLO / over the mismatch budget, 1 could
not check (registry or Redis unreachable, unknown feature view, bad configuration), with one message, no traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from featurekit.cli.options import EnvOption, console, err_console, friendly_errors

if TYPE_CHECKING:
    from featurekit.config.settings import Settings

OUT_OF_SLO_EXIT = 2

ViewOption = Annotated[
    list[str] | None,
    typer.Option("--view", "-v", help="Feature view to check (repeat for several); default: every online view."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the report as JSON instead of a table.")]


@friendly_errors
def freshness(
    env: EnvOption = None,
    view: ViewOption = None,
    sample: Annotated[int, typer.Option(min=1, help="Entities read online per view (the newest offline).")] = 100,
    as_json: JsonOption = False,
) -> None:
    """Report feature views whose online data is older than their freshness_slo tag; exit 2 when any is."""
    from featurekit.config import load_settings
    from featurekit.observability.freshness import check_freshness
    from featurekit.observability.reports import print_freshness

    settings = load_settings(env)
    report = check_freshness(settings, views=view or None, sample=sample)
    if as_json:
        console.print_json(json.dumps(report.to_dict()))
    else:
        print_freshness(report, console)
    _export("freshness", settings)
    if not report.ok:
        raise typer.Exit(code=OUT_OF_SLO_EXIT)


@friendly_errors
def consistency(
    env: EnvOption = None,
    view: ViewOption = None,
    sample: Annotated[int, typer.Option("--sample", "-n", min=1, help="Entities sampled per view.")] = 200,
    seed: Annotated[int | None, typer.Option(help="Seed of the entity sample (reproducible runs).")] = None,
    max_mismatch_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Mismatch rate a view may have before the exit code is 2.")
    ] = 0.0,
    stream_grace_minutes: Annotated[
        float, typer.Option(min=0.0, help="Stream views: rows newer than this are in flight, not compared.")
    ] = 10.0,
    as_json: JsonOption = False,
) -> None:
    """Compare sampled entities' online rows with the offline point-in-time latest rows; exit 2 over budget."""
    from datetime import timedelta

    from featurekit.config import load_settings
    from featurekit.observability.consistency import check_consistency
    from featurekit.observability.reports import print_consistency

    settings = load_settings(env)
    report = check_consistency(
        settings,
        views=view or None,
        sample=sample,
        seed=seed,
        stream_grace=timedelta(minutes=stream_grace_minutes),
    )
    if as_json:
        console.print_json(json.dumps(report.to_dict(), default=str))
    else:
        print_consistency(report, console, max_mismatch_rate)
    _export("consistency", settings)
    if report.failing(max_mismatch_rate):
        raise typer.Exit(code=OUT_OF_SLO_EXIT)


@friendly_errors
def catalog(
    env: EnvOption = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the static site into.")] = Path(
        "build/catalog"
    ),
) -> None:
    """Build the feature catalog (static HTML with client-side search) from the feature repo."""
    from featurekit.catalog.build import build_catalog
    from featurekit.config import load_settings

    site = build_catalog(load_settings(env), out)
    console.print(f"catalog: {site.features} features in {site.views} views -> {site.index}")


def _export(job: str, settings: Settings) -> None:
    """Hand the check's gauges to the Pushgateway / textfile collector when configured; a failure only warns."""
    from featurekit.observability.errors import MetricsExportError
    from featurekit.observability.exporter import export_job_metrics

    try:
        result = export_job_metrics(settings, job)
    except MetricsExportError as exc:
        err_console.print(f"[yellow]warning:[/] {exc}", highlight=False)
        return
    if result is not None:
        err_console.print(f"metrics exported to {result.kind} {result.target}", highlight=False)
