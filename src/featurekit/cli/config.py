"""``featurekit config``: show an environment's settings, render them from Terraform outputs, write
``feature_store.yaml`` for Feast's own CLI and UI."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

from featurekit.cli.options import EnvOption, console, friendly_errors

app = typer.Typer(help="Environment settings.", no_args_is_help=True)


@app.command()
@friendly_errors
def show(env: EnvOption = None) -> None:
    """Print the validated settings of an environment (secrets masked)."""
    from featurekit.config import load_settings

    settings = load_settings(env)
    console.print(yaml.safe_dump(settings.model_dump(mode="json"), sort_keys=False), highlight=False, markup=False)


@app.command()
@friendly_errors
def render(
    terraform_output: Annotated[Path, typer.Option(help="`terraform output -json` of the environment.")],
    env: EnvOption = None,
    out: Annotated[Path | None, typer.Option(help="Where to write; default: the environment's file.")] = None,
) -> None:
    """Merge the Terraform outputs (endpoints, buckets) into the environment file, so none is typed twice."""
    from featurekit.config.loader import active_env
    from featurekit.config.render import render_environment_file

    path = render_environment_file(active_env(env), terraform_output, out)
    console.print(f"[green]wrote[/] {path}")


@app.command("feature-store-yaml")
@friendly_errors
def feature_store_yaml(
    env: EnvOption = None,
    out: Annotated[Path | None, typer.Option(help="Default: feature_repo/feature_store.yaml.")] = None,
) -> None:
    """Write feature_store.yaml for Feast's CLI and UI (`feast ui`); secrets are masked."""
    from featurekit.config import load_settings
    from featurekit.repo.feast_config import render_feature_store_yaml

    settings = load_settings(env)
    target = out or settings.feature_repo / "feature_store.yaml"
    target.write_text(render_feature_store_yaml(settings))
    console.print(f"[green]wrote[/] {target}")
