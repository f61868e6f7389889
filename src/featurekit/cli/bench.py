"""``featurekit bench``: benchmark commands, one per area: ``online``, ``batch`` and ``stream``.

Each command lazily imports its module from the top-level ``bench/`` package of the project root, so the CLI
stays fast and benchmark code (datasets, load generators, plotting) is never imported by the kit itself.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Annotated

import typer

from featurekit.cli.options import friendly_errors

bench_app = typer.Typer(
    name="bench", help="Benchmarks against stock Feast, with JSON results and PNG charts.", no_args_is_help=True
)


IdleTimeoutOption = Annotated[
    float,
    typer.Option(
        "--idle-timeout", min=0.1, help="Seconds a timed phase waits for an idle machine before measuring anyway."
    ),
]


def load_bench_module(name: str) -> ModuleType:
    """Import ``bench.<name>`` from the project root (added to ``sys.path`` on first use)."""
    from featurekit.config import project_root

    root = str(project_root())
    if root not in sys.path:
        sys.path.insert(0, root)
    return importlib.import_module(f"bench.{name}")


@bench_app.command("online")
@friendly_errors
def online(
    quick: Annotated[
        bool, typer.Option("--quick", help="Small dataset (~1-2 min) instead of the full 1M-row run.")
    ] = False,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write results (with ratios) to this file.")] = None,
    out_dir: Annotated[
        Path | None, typer.Option(help="Directory for the JSON and PNG (default bench/results).")
    ] = None,
    redis_url: Annotated[
        str | None, typer.Option(help="Redis to use (default: start a throw-away redis-server).")
    ] = None,
    skip_server: Annotated[bool, typer.Option("--skip-server", help="Skip the HTTP feature server phase.")] = False,
    feast_api: Annotated[
        bool,
        typer.Option(
            "--feast-api",
            help="Compare both stores only through Feast's own API (materialize, write_to_online_store, push, "
            "get_online_features, feast serve); JSON key feast_api.",
        ),
    ] = False,
    sizes: Annotated[
        str | None,
        typer.Option(help="--feast-api: entity counts for memory, comma-separated; the first runs every phase."),
    ] = None,
    cluster: Annotated[
        bool,
        typer.Option(
            "--cluster",
            help="The featurekit store on a local 3-shard Redis Cluster beside a standalone server (materialize, "
            "push, read p50/p99, bytes per entity, ratios); JSON key cluster.",
        ),
    ] = False,
    idle_timeout: IdleTimeoutOption = 30.0,
) -> None:
    """Online store: materialize, push, memory, read latency vs the raw Redis floor, feature server, vs stock Feast."""
    load_bench_module("report").set_idle_timeout(idle_timeout)
    if cluster:
        if feast_api or sizes or redis_url:
            raise typer.BadParameter("--cluster starts its own servers and takes only --quick, --json, --out-dir")
        load_bench_module("cluster").run(quick=quick, json_path=json_path, out_dir=out_dir)
        return
    if feast_api:
        parsed = [int(s.replace("_", "")) for s in sizes.split(",")] if sizes else None
        feast_module = load_bench_module("feast_api")
        options = {"json_path": json_path, "out_dir": out_dir, "redis_url": redis_url, "skip_server": skip_server}
        feast_module.run(quick=quick, sizes=parsed, **options)
        return
    if sizes:
        raise typer.BadParameter("--sizes only applies with --feast-api")
    module = load_bench_module("online")
    module.run(quick=quick, json_path=json_path, out_dir=out_dir, redis_url=redis_url, skip_server=skip_server)


@bench_app.command("batch")
@friendly_errors
def batch(
    quick: Annotated[
        bool, typer.Option("--quick", help="10k users / 10k x 100k retrieval instead of 100k / 1M.")
    ] = False,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write results to this file.")] = None,
    out_dir: Annotated[
        Path | None, typer.Option(help="Directory for the JSON and PNG (default bench/results).")
    ] = None,
    sizes: Annotated[
        str | None,
        typer.Option(
            help="Training-data sizes, comma-separated: quick (10k x 100k), 1x (100k x 1M), 10x (1M x 10M rows "
            "generated on disk, ~140 MB, 3-10 minutes; JSON key historical_10x). Default: 1x, or quick with --quick."
        ),
    ] = None,
    idle_timeout: IdleTimeoutOption = 30.0,
) -> None:
    """Batch: one daily DAG run (extract+validate+materialize) at 1M transactions; training data vs stock duckdb."""
    load_bench_module("report").set_idle_timeout(idle_timeout)
    module = load_bench_module("batch")
    parsed = [s.strip() for s in sizes.split(",") if s.strip()] if sizes else None
    module.run(quick=quick, json_path=json_path, out_dir=out_dir, sizes=parsed)


@bench_app.command("stream")
@friendly_errors
def stream(
    quick: Annotated[bool, typer.Option("--quick", help="Short phases (~1 min) at 10,000 events/s.")] = False,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write results to this file.")] = None,
    out_dir: Annotated[
        Path | None, typer.Option(help="Directory for the JSON and PNG (default bench/results).")
    ] = None,
    idle_timeout: IdleTimeoutOption = 30.0,
) -> None:
    """Streaming: Kafka (tansu) -> Spark local[2] -> Redis events/s with backlog, freshness p50/p95/p99."""
    load_bench_module("report").set_idle_timeout(idle_timeout)
    module = load_bench_module("stream")
    module.run(quick=quick, json_path=json_path, out_dir=out_dir)
