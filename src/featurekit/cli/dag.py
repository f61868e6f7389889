"""``featurekit dag ...``: the generated Airflow DAGs from the command line.

``manifest`` derives the cached view list the DAG file reads (run it when building the scheduler image, so parsing
never has to); ``list`` shows what each DAG runs; ``test`` runs a DAG for whole intervals in ``[start, end)`` with
Airflow's ``dag.test()`` against a throw-away metadata DB, the way the demo and CI exercise the real DAG file.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from featurekit.cli.options import EnvOption, console, friendly_errors

app = typer.Typer(help="The Airflow DAGs generated from the feature repo.", no_args_is_help=True)


@app.command()
@friendly_errors
def manifest(env: EnvOption = None) -> None:
    """Derive and cache the DAG manifest (views per schedule) for the feature repo."""
    from featurekit.orchestration.manifest import cache_manifest

    path = cache_manifest(env)
    console.print(f"manifest written: {path}")


@app.command("list")
@friendly_errors
def list_views(env: EnvOption = None) -> None:
    """Show each DAG and the views it runs."""
    from featurekit.config import load_settings
    from featurekit.orchestration.factory import dag_id
    from featurekit.orchestration.manifest import DAG_SCHEDULES, load_manifest

    loaded = load_manifest(load_settings(env), env)
    for schedule in DAG_SCHEDULES:
        views = ", ".join(f"{v.name} ({v.kind}, {v.tier})" for v in loaded.for_dag(schedule)) or "-"
        console.print(f"[bold]{dag_id(schedule)}[/]: {views}")


@app.command("test")
@friendly_errors
def test_dag(
    schedule: Annotated[str, typer.Argument(help="hourly or daily")],
    start: Annotated[datetime, typer.Option(help="First interval start (UTC).")],
    end: Annotated[datetime, typer.Option(help="Last interval end (UTC, exclusive).")],
    airflow_home: Annotated[Path | None, typer.Option(help="Airflow home (default: <data_dir>/airflow).")] = None,
    env: EnvOption = None,
) -> None:
    """Run the SCHEDULE DAG with dag.test() for every whole interval in [start, end), oldest first."""
    from featurekit.config import load_settings
    from featurekit.orchestration.runner import intervals_between, run_dags

    settings = load_settings(env)
    runs = [(schedule, i) for i in intervals_between(schedule, start, end)]
    results, _ = run_dags(runs, home=airflow_home or settings.data_dir / "airflow", env=env)
    failed = False
    for result in results:
        colour = "green" if result.succeeded else "red"
        console.print(f"{result.dag_id} {result.interval}: [{colour}]{result.state}[/]")
        for task in result.failed_tasks():
            console.print(f"  {task}: {result.tasks[task]}")
        failed = failed or not result.succeeded
    if failed:
        raise typer.Exit(code=1)
