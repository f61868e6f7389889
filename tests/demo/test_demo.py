"""``featurekit demo`` end to end on the local environment, with its own Redis, cleaned up afterwards."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

from featurekit.config.loader import project_root


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_demo_runs_end_to_end_and_stops_what_it_started(tmp_path) -> None:
    """Run as users run it (``featurekit demo`` in its own process, so Spark's JVM starts inside the demo): the
    terminal gets stage headers, tables and timings; Spark's log4j WARN lines and Feast's RuntimeWarnings go to the
    log file the demo names at the end, next to where to look next."""
    env = {**os.environ, "FEATUREKIT_DATA_DIR": str(tmp_path)}
    env.pop("FEATUREKIT_REDIS_URL", None)
    featurekit = Path(sys.executable).parent / "featurekit"
    args = [str(featurekit), "demo", "--users", "300", "--days", "35", "--requests", "4"]
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=900, cwd=project_root())
    text = result.stdout + result.stderr
    assert result.returncode == 0, text[-4000:]
    assert "cash-advance decisions (cash_advance_v1)" in text
    assert text.count("approve") + text.count("decline") == 4
    assert "get_online_features (fast path" in text and "then p50" in text
    assert (tmp_path / "warehouse.duckdb").is_file()
    port = int(re.search(r"hot=redis://127\.0\.0\.1:(\d+)", text).group(1))
    assert not _listening(port), "the demo left its Redis server running"

    noise = [line for line in text.splitlines() if re.search(r"\bWARN(ING)?\b|RuntimeWarning|warnings\.warn", line)]
    assert noise == [], "library noise on the terminal"
    log = tmp_path / "demo.log"
    assert "where to look next" in result.stdout and str(log) in result.stdout
    logged = log.read_text()
    assert " WARN " in logged, "Spark's log4j output is kept in the demo log"
    assert "RuntimeWarning" in logged, "Feast's warnings are kept in the demo log"
