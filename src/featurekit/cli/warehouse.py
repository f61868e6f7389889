"""``featurekit warehouse generate``: the example's synthetic warehouse (``featurekit.demo.example``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from featurekit.cli.options import EnvOption, console, friendly_errors

app = typer.Typer(help="The warehouse (DuckDB locally).", no_args_is_help=True)


@app.command()
@friendly_errors
def generate(
    env: EnvOption = None,
    users: Annotated[int, typer.Option(help="Number of users.")] = 2_000,
    days: Annotated[int, typer.Option(help="Days of history.")] = 35,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 7,
    end: Annotated[datetime | None, typer.Option(help="End of history (UTC); default: this hour.")] = None,
    txn_per_user_day: Annotated[float, typer.Option(help="Mean debits per user per day.")] = 1.2,
) -> None:
    """Generate the example's synthetic warehouse and load it into the environment's DuckDB file."""
    from featurekit.config import load_settings
    from featurekit.config.settings import DuckDBWarehouse
    from featurekit.demo.example import example_module
    from featurekit.intervals import floor_to
    from featurekit.warehouse.load import load_duckdb

    settings = load_settings(env)
    if not isinstance(settings.warehouse, DuckDBWarehouse):
        raise typer.BadParameter(
            f"environment {settings.env!r} has a {settings.warehouse.type} warehouse; this loads a DuckDB one "
            "(warehouse.type: duckdb)",
            param_hint="--env",
        )
    end = floor_to(end or datetime.now(UTC), "hourly").replace(tzinfo=None)
    warehouse = example_module().warehouse(
        users=users, days=days, end=end, seed=seed, txn_per_user_day=txn_per_user_day
    )
    counts = load_duckdb(warehouse, settings.warehouse.path)
    console.print(f"{settings.warehouse.path}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
