"""``featurekit serve``: the online feature server (Feast's ``/get-online-features`` on the fast read path)."""

from __future__ import annotations

import functools
import os
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
    token_env: Annotated[
        str, typer.Option(help="Environment variable holding the bearer token; unset or empty = no auth.")
    ] = "FEATUREKIT_SERVING_TOKEN",
    log_level: Annotated[str, typer.Option(help="Log level of the server.")] = "warning",
) -> None:
    """Serve online features over HTTP: /get-online-features (Feast's contract), /health, /metrics."""
    import logging

    from featurekit.serving.wiring import build_from_env
    from featurekit.serving.workers import run_workers

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if repo is not None:
        os.environ["FEATUREKIT_SERVE_REPO"] = str(repo.resolve())
    if env is not None:
        os.environ["FEATUREKIT_ENV"] = env
    os.environ["FEATUREKIT_SERVE_TOKEN_ENV"] = token_env
    from featurekit.serving.wiring import feature_store_from_env, preflight

    store = feature_store_from_env()
    preflight(store)  # an unreachable or misconfigured tier is a FeaturekitError: one red line, exit 1
    # One worker serves from this process with the store just checked; more workers are spawned processes.
    run_workers(functools.partial(build_from_env, store) if workers <= 1 else build_from_env, host, port, workers)
