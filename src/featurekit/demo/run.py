"""The local end-to-end run behind ``featurekit demo``.

Starts what it needs (Redis when none is configured), generates the warehouse, applies the feature repo, builds the
offline store, materializes into Redis, then plays the ML service: scores cash-advance requests through
``get_online_features`` on the ``cash_advance_v1`` feature service, and prints features, decisions and timings.
Everything it started is stopped on the way out, also on failure.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rich.console import Console
from rich.table import Table

from featurekit.config import Settings, load_settings
from featurekit.intervals import floor_to
from featurekit.services.redis_server import RedisServer
from featurekit.warehouse.generate import WarehouseSpec, generate
from featurekit.warehouse.load import load_duckdb

FEATURE_SERVICE = "cash_advance_v1"
# (feature, column header) shown per request; the full vector is what the model reads.
SHOWN_FEATURES = (
    ("income_30d", "income 30d"),
    ("overdraft_count_30d", "overdrafts"),
    ("balance", "balance"),
    ("amount_to_income", "amt/income"),
    ("amount_to_balance", "amt/bal"),
)


@dataclass(frozen=True)
class DemoOptions:
    users: int = 2_000
    days: int = 35
    history_days: int = 7
    history_hours: int = 24
    requests: int = 8
    seed: int = 7


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

    with local_settings(env) as settings:
        console.print(f"[bold]featurekit demo[/] env={settings.env} project={settings.project}")
        tiers = ", ".join(f"{name}={tier.url}" for name, tier in settings.online_store.tiers.items())
        console.print(f"online store tiers: {tiers}")
        end = floor_to(datetime.now(UTC), "hourly")
        spec = WarehouseSpec(users=options.users, days=options.days, end=end.replace(tzinfo=None), seed=options.seed)

        with stage("generate warehouse"):
            counts = load_duckdb(generate(spec), settings.warehouse.path)
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
            from featurekit.repo.tags import grain_of

            # History is backfilled as the past runs would have left it (extracted and materialized: a stream view's
            # latest value may be days old and must be served as well as trained on); the last whole day and hour go
            # through the real daily and hourly DAGs (dag.test(), every view: extract to consistency).
            views = [*repo.batch_views, *repo.stream_views]
            history = {"daily": timedelta(days=options.history_days), "hourly": timedelta(hours=options.history_hours)}
            runs, extracted = [], []
            for grain, span in history.items():
                last = DataInterval.ending_at(floor_to(end, grain), grain)
                grain_views = [v for v in views if grain_of(v) == grain]
                extracted += backfill(settings, grain_views, end - span, last.start).extracted
                runs.append((grain, last))
            console.print(
                f"  history: {len(extracted)} partitions extracted and materialized, "
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

        with stage("catch data breakages (drift, slice outage, empty source)"):
            from featurekit.demo.breakages import run_breakage_stage

            run_breakage_stage(settings, console)

        with stage("stream balance + transaction events"):
            from featurekit.streaming.demo import run_stream_stage

            run_stream_stage(settings, console)

        with stage("serve cash-advance requests"):
            _score_requests(settings, options, console)

        with stage("freshness + consistency"):
            from featurekit.observability.consistency import check_consistency
            from featurekit.observability.freshness import check_freshness
            from featurekit.observability.reports import print_consistency, print_freshness

            # Reported, not enforced: the demo shows the state of its own data (its streams run briefly, not on).
            print_freshness(check_freshness(settings), console)
            print_consistency(check_consistency(settings, sample=500, seed=options.seed), console)

    console.print("stage timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))


def _score_requests(settings: Settings, options: DemoOptions, console: Console) -> None:
    """Play the ML service: one ``get_online_features`` call per request on the fast read path."""
    from featurekit.demo.cash_advance_service import decide
    from featurekit.repo.feast_config import feature_store
    from featurekit.serving import OnlineFeatureReader

    reader = OnlineFeatureReader.from_feature_store(feature_store(settings))
    service = reader.feature_service(FEATURE_SERVICE)
    first_user = 100_001
    step = max(1, options.users // options.requests)
    amounts = (100.0, 250.0, 500.0, 750.0, 1_000.0, 1_500.0)
    requests = [(first_user + i * step, amounts[i % len(amounts)]) for i in range(options.requests)]
    table = Table(title=f"cash-advance decisions ({FEATURE_SERVICE})")
    for column in ("user", "amount", *(header for _, header in SHOWN_FEATURES), "balance age", "decision", "ms"):
        table.add_column(column, overflow="fold")
    latencies = []
    for user_id, amount in requests:
        started = time.perf_counter()
        result = reader.get_online_features(
            features=service,
            entity_rows=[{"user_id": user_id, "requested_amount": amount}],
            include_event_timestamps=True,
        )
        latencies.append((time.perf_counter() - started) * 1000)
        features = {name: values[0] for name, values in result.to_dict().items()}
        balance_age = result.ages_seconds().get("user_balance_live", [None])[0]
        decision = decide(user_id, amount, features)
        table.add_row(
            str(user_id),
            f"{amount:,.0f}",
            *(_fmt(features.get(name)) for name, _ in SHOWN_FEATURES),
            "-" if balance_age is None else f"{balance_age / 3600:.1f} h",
            "[green]approve[/]" if decision.approved else f"[red]decline[/]: {decision.reason}",
            f"{latencies[-1]:.2f}",
        )
    reader.close()
    console.print(table)
    warm = latencies[1:] or latencies
    console.print(
        f"  get_online_features (fast path, {len(service.feature_view_projections)} feature views incl. on-demand): "
        f"first call {latencies[0]:.2f} ms, then p50 {statistics.median(warm):.2f} ms, max {max(warm):.2f} ms"
    )


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


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
