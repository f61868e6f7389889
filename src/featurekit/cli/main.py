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

from featurekit.cli import (  # noqa: E402 - the app above must exist first
    bench,
    cicd,
    config,
    dag,
    demo,
    deploy,
    monitor,
    ops,
    pipeline,
    repo,
    serve,
    stream,
    warehouse,
)

# The end-to-end run.
app.command()(demo.demo)
# Feature repo: rules, plan, apply, PR projects.
app.command()(repo.check)
app.command()(repo.plan)
app.command()(repo.apply)
app.command()(repo.teardown)
app.add_typer(cicd.app, name="cicd")
# Pipelines: one step by hand, or the Airflow DAGs.
app.command()(pipeline.extract)
app.command()(pipeline.validate)
app.command()(pipeline.materialize)
app.add_typer(dag.app, name="dag")
app.add_typer(stream.app, name="stream")
# Serving and operations.
app.command()(serve.serve)
app.command()(ops.freshness)
app.command()(ops.consistency)
app.command()(ops.catalog)
app.command()(monitor.drift)
app.command()(monitor.impact)
# Environments, data and benchmarks.
app.command()(deploy.deploy)
app.add_typer(config.app, name="config")
app.add_typer(warehouse.app, name="warehouse")
app.add_typer(bench.bench_app, name="bench")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
