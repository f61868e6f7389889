"""``featurekit deploy --env dev|prod [--dry-run]``: ship this checkout to the environment (see docs/deploy.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from featurekit.cli.options import EnvOption, console, friendly_errors


@friendly_errors
def deploy(
    env: EnvOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print every action without doing it.")] = False,
    target: Annotated[
        list[str] | None, typer.Option("--target", "-t", help="mwaa, emr or ecs (repeat); default: all, in order.")
    ] = None,
    commit: Annotated[str | None, typer.Option(help="Commit being deployed (default: git rev-parse HEAD).")] = None,
    streaming_venv: Annotated[
        Path | None, typer.Option(help="A prebuilt virtual environment for the streaming jobs (default: built).")
    ] = None,
) -> None:
    """Deploy the DAGs and packages to MWAA, restart the streaming jobs on EMR Serverless, update the feature server."""
    from featurekit.config import load_settings
    from featurekit.config.loader import project_root
    from featurekit.deploy.run import TARGETS
    from featurekit.deploy.run import deploy as run_deploy

    settings = load_settings(env)
    actions = run_deploy(
        settings,
        project_root(),
        targets=tuple(target or TARGETS),
        dry_run=dry_run,
        commit=commit,
        streaming_venv=streaming_venv,
    )
    for action in actions:
        console.print(str(action), highlight=False, markup=False, soft_wrap=True)
    changes = sum(a.changes for a in actions)
    state = "would change" if dry_run else "changed"
    console.print(f"[green]deploy {settings.env}[/]: {changes} action(s) {state}, {len(actions) - changes} unchanged")
