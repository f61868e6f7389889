"""Run ``featurekit`` commands in-process against a data directory and Redis, as an operator would."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from featurekit.cli.main import app


def run_cli(args: list[str], data_dir: Path | str, redis_url: str, **env: str):
    """Invoke ``featurekit`` with the test's data directory and Redis; metric export goes only where the environment
    file says (an operator's own FEATUREKIT_PUSHGATEWAY_URL never receives test metrics)."""
    environ: dict[str, str | None] = {
        "FEATUREKIT_DATA_DIR": str(data_dir),
        "FEATUREKIT_REDIS_URL": redis_url,
        "COLUMNS": "200",
        "FEATUREKIT_PUSHGATEWAY_URL": None,
        **env,
    }
    return CliRunner().invoke(app, args, env=environ)
