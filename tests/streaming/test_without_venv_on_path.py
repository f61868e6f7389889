"""The CLI started the way a service manager or cron starts it: by the console script's full path, with a stock PATH
that does not hold the virtual environment. Spark's Python workers (here the kit's Kafka data source) must run the
same interpreter as the driver, not the system ``python3`` that lacks featurekit."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from examples.cash_advance.events import BALANCE_TOPIC, EventGenerator, encode
from featurekit.streaming.producer import EventProducer
from support.streams import online_rows

STOCK_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
KEEP = ("HOME", "LANG", "JAVA_HOME", "TMPDIR", "SSL_CERT_FILE", "AWS_CA_BUNDLE")


def test_stream_run_from_a_path_without_the_virtual_environment(stream_settings, redis_url: str) -> None:
    settings = stream_settings
    gen = EventGenerator(users=20, seed=5)
    now = datetime.now(UTC).replace(microsecond=0)
    events = gen.balances(40, [now - timedelta(seconds=40 - i) for i in range(40)])
    producer = EventProducer(settings)
    for event in events:
        key, value = encode(event)
        producer.send(BALANCE_TOPIC, value, key)
    producer.flush()

    venv_bin = Path(sys.executable).parent
    assert not any(Path(p) == venv_bin for p in STOCK_PATH.split(":"))
    env = {k: os.environ[k] for k in KEEP if k in os.environ}  # no PYSPARK_PYTHON, no VIRTUAL_ENV
    env |= {
        "PATH": STOCK_PATH,
        "FEATUREKIT_DATA_DIR": str(settings.data_dir),
        "FEATUREKIT_REDIS_URL": redis_url,
        "FEATUREKIT_KAFKA_BOOTSTRAP": settings.kafka.bootstrap_servers,
    }
    result = subprocess.run(
        [str(venv_bin / "featurekit"), "stream", "run", "user_balance_live", "--env", "local", "--available-now"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "ModuleNotFoundError" not in output

    users = sorted({e["user_id"] for e in events})
    latest = {e["user_id"]: e for e in sorted(events, key=lambda e: e["event_timestamp"])}
    served = online_rows(settings, ["user_balance_live:balance"], users)
    assert {u: served[u]["balance"] for u in users} == pytest.approx({u: latest[u]["balance"] for u in users})
