"""``featurekit demo`` end to end on the local environment, with its own Redis, cleaned up afterwards."""

from __future__ import annotations

import io
import re
import socket

from rich.console import Console

from featurekit.demo.run import DemoOptions, run_demo


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_demo_runs_end_to_end_and_stops_what_it_started(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FEATUREKIT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("FEATUREKIT_REDIS_URL", raising=False)
    out = io.StringIO()
    run_demo("local", DemoOptions(users=300, days=35, requests=4), Console(file=out, width=160))
    text = out.getvalue()
    assert "cash-advance decisions (cash_advance_v1)" in text
    assert text.count("approve") + text.count("decline") == 4
    assert "get_online_features (fast path" in text and "then p50" in text
    assert (tmp_path / "warehouse.duckdb").is_file()
    port = int(re.search(r"hot=redis://127\.0\.0\.1:(\d+)", text).group(1))
    assert not _listening(port), "the demo left its Redis server running"
