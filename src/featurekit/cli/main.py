"""Entry point of the ``featurekit`` command.

Each command group lives in its own module and is registered here with one line, so adding a command never edits
another group's code. Command modules import heavy libraries (Feast, Spark, Airflow) inside the commands, so
``featurekit --help`` stays fast.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="featurekit",
    help="Feature platform kit: Feast + tiered Redis + S3/Athena + Airflow + Spark streaming.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

from featurekit.cli import demo, pipeline, repo, warehouse  # noqa: E402 - command modules register below

app.command()(demo.demo)
app.command()(repo.check)
app.command()(repo.apply)
app.command()(repo.plan)
app.command()(repo.teardown)
app.command()(pipeline.extract)
app.command()(pipeline.materialize)
app.add_typer(warehouse.app, name="warehouse")
from featurekit.cli import cicd  # noqa: E402

app.add_typer(cicd.app, name="cicd")
from featurekit.cli import ops  # noqa: E402
app.command()(ops.freshness)
app.command()(ops.consistency)
app.command()(ops.catalog)

from featurekit.cli import dag as dag_cli  # noqa: E402

app.add_typer(dag_cli.app, name="dag")
from featurekit.cli import stream  # noqa: E402

app.add_typer(stream.app, name="stream")

from featurekit.cli import bench, serve  # noqa: E402

app.command()(serve.serve)
app.add_typer(bench.bench_app, name="bench")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
