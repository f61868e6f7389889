"""``featurekit serve``: the online feature server (Feast's ``/get-online-features`` on the fast read path)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated

import typer

from featurekit.cli.options import EnvOption, friendly_errors


@friendly_errors
def serve(
    env: EnvOption = None,
    repo: Annotated[
        Path | None,
        typer.Option("--repo", help="A Feast repo directory with feature_store.yaml (default: the kit's settings)."),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 6566,
    workers: Annotated[int, typer.Option(help="Worker processes (never recycled).")] = 1,
    log_level: Annotated[str, typer.Option(help="Log level of the server.")] = "warning",
) -> None:
    """Serve online features over HTTP: /get-online-features (Feast's contract), /health, /metrics.

    Limits, timeouts and tokens are the environment's ``serving`` settings (the read token is
    ``serving.auth_token``, ``${FEATUREKIT_SERVING_TOKEN}`` in the shipped environment files)."""
    import logging

    from featurekit.config import load_settings
    from featurekit.config.loader import active_env
    from featurekit.serving.wiring import build_worker, feature_store_for, preflight
    from featurekit.serving.workers import run_workers

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Workers are handed the environment and repo, never single values: each loads the same settings itself.
    env = active_env(env)
    repo = repo.resolve() if repo is not None else None
    store = feature_store_for(load_settings(env), repo)
    preflight(store)  # an unreachable or misconfigured tier is a FeaturekitError: one red line, exit 1
    # One worker serves from this process with the store just checked; more workers are spawned processes.
    build = functools.partial(build_worker, env, repo, store if workers <= 1 else None)
    run_workers(build, host, port, workers)
