"""``featurekit cicd``: the CI/CD path, runnable on a laptop."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from featurekit.cli.options import console, friendly_errors

app = typer.Typer(
    help="The feature repo's path from branch to prod (what the GitHub workflows run).", no_args_is_help=True
)


@app.command()
@friendly_errors
def demo(
    workdir: Annotated[
        Path | None, typer.Option("--workdir", help="Keep the registries and repo copy here (default: a temp dir).")
    ] = None,
    comments_dir: Annotated[
        Path | None, typer.Option("--comments-dir", help="Write the PR plan comments (Markdown) here.")
    ] = None,
) -> None:
    """Plan -> apply for a dev and a prod registry (local files): PR projects, the prod guard, the breaking gate."""
    from featurekit.demo.cicd import run_cicd_demo

    run_cicd_demo(console, workdir=workdir, comments_dir=comments_dir)
