"""``featurekit demo``: the local end-to-end run."""

from __future__ import annotations

from typing import Annotated

import typer

from featurekit.cli.options import EnvOption, console, friendly_errors


@friendly_errors
def demo(
    env: EnvOption = None,
    users: Annotated[int, typer.Option(help="Synthetic users in the warehouse.")] = 2_000,
    days: Annotated[int, typer.Option(help="Days of warehouse history.")] = 35,
    requests: Annotated[int, typer.Option(help="Requests the example's serving stage scores.")] = 8,
    seed: Annotated[int, typer.Option(help="Random seed of the synthetic data.")] = 7,
) -> None:
    """Run the platform end to end locally: warehouse -> offline store -> Redis -> served decisions."""
    from featurekit.demo.run import DemoOptions, run_demo

    run_demo(env, DemoOptions(users=users, days=days, requests=requests, seed=seed), console)
