"""The local end-to-end run behind ``featurekit demo``.

Starts what it needs (Redis when none is configured), generates the warehouse, applies the feature repo, builds the
offline store, materializes into Redis, then runs the example's own stages (:mod:`featurekit.demo.example`: for
the bundled example, streaming events through the generated stream jobs and scoring requests as the ML service
would) and reports freshness and consistency. The kit imports the example only by that path, at run time.
Everything it started is stopped on the way out, also on failure.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rich.console import Console

from featurekit.config import ConfigError, Settings, load_settings
from featurekit.config.settings import DuckDBWarehouse
from featurekit.demo.console import print_next_steps
from featurekit.demo.example import EXAMPLE_MODULE, example_module
from featurekit.demo.logs import captured_logs
from featurekit.intervals import floor_to
from featurekit.services.redis_server import RedisServer
from featurekit.warehouse.load import load_duckdb


@dataclass(frozen=True)
class DemoOptions:
    users: int = 2_000
    days: int = 35
    history_days: int = 7
    history_hours: int = 24
    requests: int = 8
    seed: int = 7
    example_module: str = EXAMPLE_MODULE


@contextlib.contextmanager
def local_settings(env: str | None) -> Iterator[Settings]:
    """The environment's settings, with a throw-away Redis started for tiers that have no URL configured."""
    settings = load_settings(env)
    missing = [name for name, tier in settings.online_store.tiers.items() if not tier.url]
    if not missing:
        yield settings
        return
    with RedisServer.start() as server:
        overrides = {"online_store": {"tiers": {name: {"url": server.url} for name in missing}}}
        yield load_settings(env, overrides=overrides)


def run_demo(env: str | None, options: DemoOptions, console: Console) -> None:
    """Run every stage; raises on the first failure (the CLI turns it into a non-zero exit)."""
    timings: dict[str, float] = {}

    def stage(name: str):
        return _Stage(name, console, timings)

    with local_settings(env) as settings, captured_logs(settings.data_dir / "demo.log", console) as log_path:
        console.print(f"[bold]featurekit demo[/] env={settings.env} project={settings.project}")
        tiers = ", ".join(f"{name}={tier.url}" for name, tier in settings.online_store.tiers.items())
        console.print(f"online store tiers: {tiers}")
        end = floor_to(datetime.now(UTC), "hourly")
        example = example_module(options.example_module)

        with stage("generate warehouse"):
            warehouse = example.warehouse(
                users=options.users, days=options.days, end=end.replace(tzinfo=None), seed=options.seed
            )
            if not isinstance(settings.warehouse, DuckDBWarehouse):
                raise ConfigError(f"the demo loads a DuckDB warehouse; {settings.env!r} has {settings.warehouse.type}")
            counts = load_duckdb(warehouse, settings.warehouse.path)
            console.print("  " + ", ".join(f"{k}: {v:,} rows" for k, v in counts.items()))

        with stage("check + apply feature repo"):
            from featurekit.repo.apply import apply_repo, checked_repo

            repo = checked_repo(settings)
            apply_repo(settings, repo)
            console.print(f"  registry {settings.registry.path}")

        with stage("build offline store + run the Airflow DAGs"):
            from featurekit.intervals import DataInterval
            from featurekit.orchestration.runner import run_dags
            from featurekit.pipelines.backfill import backfill
            from featurekit.tags import grain_of

            # History is backfilled as the past runs would have left it (extracted, validated, materialized: a stream
            # view's latest value may be days old and must be served as well as trained on); the last whole day and
            # hour go through the real daily and hourly DAGs (dag.test(), every view: extract to consistency).
            views = [*repo.batch_views, *repo.stream_views]
            history = {"daily": timedelta(days=options.history_days), "hourly": timedelta(hours=options.history_hours)}
            runs, extracted = [], []
            for grain, span in history.items():
                last = DataInterval.ending_at(floor_to(end, grain), grain)
                grain_views = [v for v in views if grain_of(v) == grain]
                extracted += backfill(settings, grain_views, end - span, last.start).extracted
                runs.append((grain, last))
            console.print(
                f"  history: {len(extracted)} partitions extracted, validated and materialized, "
                f"{sum(r.rows for r in extracted):,} offline rows"
            )
            redis_url = settings.online_store.tiers["warm"].url
            results, log = run_dags(
                runs,
                home=settings.data_dir / "airflow",
                env=settings.env,
                extra_env={"FEATUREKIT_REDIS_URL": redis_url},
            )
            for result in results:
                colour = "green" if result.succeeded else "red"
                console.print(
                    f"  {result.dag_id} {result.interval}: [{colour}]{result.state}[/] ({len(result.tasks)} tasks)"
                )
            failed = [f"{r.dag_id}: {', '.join(r.failed_tasks())}" for r in results if not r.succeeded]
            if failed:
                console.print(log[-4000:], markup=False, highlight=False)
                raise RuntimeError(f"DAG runs failed: {'; '.join(failed)}")

        for name, run_stage in example.STAGES:
            with stage(name):
                run_stage(settings, options, console)

        with stage("freshness + consistency"):
            from featurekit.observability.consistency import check_consistency
            from featurekit.observability.freshness import check_freshness
            from featurekit.observability.reports import print_consistency, print_freshness

            # Reported, not enforced: the demo shows the state of its own data (its streams run briefly, not on).
            print_freshness(check_freshness(settings), console)
            print_consistency(check_consistency(settings, sample=500, seed=options.seed), console)

    console.print("stage timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))
    print_next_steps(settings, console, log_path)


class _Stage:
    """Prints a stage header, times it, and records the duration."""

    def __init__(self, name: str, console: Console, timings: dict[str, float]) -> None:
        self.name, self.console, self.timings = name, console, timings

    def __enter__(self) -> None:
        self.started = time.perf_counter()
        self.console.rule(f"[bold cyan]{self.name}")

    def __exit__(self, exc_type, exc, tb) -> None:
        self.timings[self.name] = time.perf_counter() - self.started
        if exc_type is None:
            self.console.print(f"  [green]done[/] in {self.timings[self.name]:.1f}s")
        else:
            self.console.print(f"  [red]failed[/] after {self.timings[self.name]:.1f}s")
