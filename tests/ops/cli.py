"""Run ``featurekit`` commands in-process against a data directory and Redis, as an operator would."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from featurekit.cli.main import app


def run_cli(args: list[str], data_dir: Path | str, redis_url: str, **env: str):
    environ = {"FEATUREKIT_DATA_DIR": str(data_dir), "FEATUREKIT_REDIS_URL": redis_url, "COLUMNS": "200", **env}
    return CliRunner().invoke(app, args, env=environ)
