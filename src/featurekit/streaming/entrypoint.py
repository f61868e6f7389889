"""``main(name, argv)`` for the thin script in ``streaming/`` (spark-submit, containers): run one stream job until a
SIGTERM/SIGINT, with the environment from ``--env`` or ``FEATUREKIT_ENV``.

It takes the options of ``featurekit stream run`` and calls :func:`featurekit.streaming.run.run_stream_job` directly,
so a Spark driver imports the streaming package only, never the CLI. An expected failure (unknown view, invalid
declaration, unreachable broker) prints one line naming it and exits 1, as the CLI does.
"""

from __future__ import annotations

import argparse
import os
import sys

from featurekit.errors import FeaturekitError


def parser(name: str) -> argparse.ArgumentParser:
    """The options of ``featurekit stream run`` (same names and defaults)."""
    p = argparse.ArgumentParser(prog=f"featurekit-stream-{name}", description="Run one generated stream job.")
    p.add_argument("--env", "-e", default=os.environ.get("FEATUREKIT_ENV"), help="Environment: a file in config/.")
    p.add_argument("--available-now", action="store_true", help="Process what is in the topics now, then stop.")
    p.add_argument("--starting-offsets", default="earliest", help="earliest, latest or Spark-style JSON.")
    p.add_argument("--max-offsets-per-trigger", type=int, default=None, help="Override the configured value.")
    p.add_argument("--create-topics", action="store_true", help="Create missing source and DLQ topics.")
    p.add_argument("--metrics-port", type=int, default=None, help="Serve Prometheus metrics on this port.")
    p.add_argument("--verbose", "-v", action="store_true")
    return p


def main(name: str, argv: list[str] | None = None) -> None:
    from featurekit.streaming.run import configure_logging, run_stream_job

    args = parser(name).parse_args(list(sys.argv[1:] if argv is None else argv))
    configure_logging(args.verbose)
    try:
        run_stream_job(
            name,
            env=args.env,
            available_now=args.available_now,
            starting_offsets=args.starting_offsets,
            max_offsets_per_trigger=args.max_offsets_per_trigger,
            create_topics=args.create_topics,
            metrics_port=args.metrics_port,
        )
    except FeaturekitError as exc:
        sys.exit(f"error: {exc}")
