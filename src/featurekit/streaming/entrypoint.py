"""``main(name)`` for the thin script in ``streaming/`` (spark-submit, containers): run one stream job until a
SIGTERM/SIGINT, with the environment from ``FEATUREKIT_ENV`` and arguments passed through to ``featurekit stream
run``."""

from __future__ import annotations

import sys


def main(name: str, argv: list[str] | None = None) -> None:
    from featurekit.cli.stream import app

    args = list(sys.argv[1:] if argv is None else argv)
    app(["run", name, *args], prog_name=f"featurekit-stream-{name}")
