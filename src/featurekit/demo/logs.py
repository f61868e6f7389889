"""Where the demo's noise goes: one log file instead of the terminal.

The demo runs Spark (a JVM whose log4j writes WARN lines such as ``ProcessingTimeExecutor ... falling behind`` to
standard error), librdkafka, Airflow and Feast (``RuntimeWarning``s about experimental views). None of that is the
demo's story, but all of it is useful when a stage fails, so it is kept, not silenced: for the duration of
:func:`captured_logs`, file descriptor 2 (inherited by the JVM and every subprocess started meanwhile), Python
logging and Python warnings all go to one file. The terminal (standard output) keeps the stage headers, tables and
timings. Everything is restored on the way out, also on failure, so an error message reaches the terminal.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextlib.contextmanager
def captured_logs(path: Path, console: Console) -> Iterator[Path]:
    """Send standard error, logging (INFO and up) and warnings to ``path`` (truncated) until the block ends; on
    failure, name the file on ``console`` before the error propagates."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    with open(path, "w", buffering=1, encoding="utf-8") as log:
        saved_fd = os.dup(2)
        os.dup2(log.fileno(), 2)
        handler = logging.StreamHandler(log)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root = logging.getLogger()
        saved_level = root.level
        root.addHandler(handler)
        root.setLevel(min(saved_level or logging.INFO, logging.INFO))
        logging.captureWarnings(True)
        failed = True
        try:
            yield path
            failed = False
        finally:
            logging.captureWarnings(False)
            root.removeHandler(handler)
            root.setLevel(saved_level)
            sys.stderr.flush()
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            if failed:
                console.print(f"[red]demo failed[/]: Spark, Airflow and library output of this run is in {path}")
