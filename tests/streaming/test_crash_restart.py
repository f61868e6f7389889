"""Kill the streaming driver mid-stream (SIGKILL of the whole process group: Python driver and JVM), restart it
from its checkpoint, and compare with a clean run: online and offline values are equal, nothing double counted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from examples.cash_advance.events import TRANSACTIONS_TOPIC, EventGenerator, encode
from featurekit.streaming.producer import EventProducer
from featurekit.streaming.sink import MARKER_DIR
from support.streams import drain, offline_rows, online_rows, settings_for, wait_until

FEATURES = ["user_txn_1h:txn_count_1h", "user_txn_1h:spend_1h", "user_txn_1h:income_1h"]
LIMIT = 100


def stream_process(settings, redis_url: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "FEATUREKIT_DATA_DIR": str(settings.data_dir),
        "FEATUREKIT_REDIS_URL": redis_url,
        "FEATUREKIT_KAFKA_BOOTSTRAP": settings.kafka.bootstrap_servers,
    }
    args = [sys.executable, "-m", "featurekit.cli.main", "stream", "run", "user_txn_1h", "--env", "local"]
    args += ["--available-now", "--max-offsets-per-trigger", str(LIMIT)]
    log = open(settings.data_dir / f"stream-{time.monotonic_ns()}.log", "wb")  # noqa: SIM115 - closed by the OS
    return subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def test_killed_driver_restarts_from_checkpoint_with_the_clean_run_values(stream_settings, spark, redis_url, tmp_path):

    settings = stream_settings
    gen = EventGenerator(users=30, seed=11)
    now = datetime.now(UTC).replace(microsecond=0)
    events = gen.transactions(600, [now - timedelta(seconds=600 - i) for i in range(600)])
    producer = EventProducer(settings)
    for event in events:
        key, value = encode(event)
        producer.send(TRANSACTIONS_TOPIC, value, key)
    producer.flush()

    markers = settings.data_dir / "checkpoints" / "user_txn_1h" / MARKER_DIR
    crashed = stream_process(settings, redis_url)
    try:
        wait_until(lambda: markers.is_dir() and len(list(markers.iterdir())) >= 2, timeout_s=180,
                   what="two completed micro-batches before the kill")  # fmt: skip
        assert crashed.poll() is None, "the stream finished before it could be killed"
    finally:
        os.killpg(crashed.pid, signal.SIGKILL)
        crashed.wait(timeout=30)
    done_before_restart = len(list(markers.iterdir()))
    assert done_before_restart < -(-len(events) // LIMIT), "killed too late to test a restart"

    # The service manager restarts a failed job run (EMR Serverless retries a streaming job): up to three process
    # restarts, each from the same checkpoint. Seen once in several full suite runs (not yet understood): the
    # restarted run's dead-letter query failed every in-process retry with Spark's java.io.OptionalDataException
    # while deserializing a task, its rows query running beside it. The end state must be the clean run's whatever
    # the number of restarts, which is the property under test.
    for _attempt in range(3):
        code = stream_process(settings, redis_url).wait(timeout=300)
        if code == 0:
            break
    assert code == 0, "restart failed: " + sorted(settings.data_dir.glob("stream-*.log"))[-1].read_text()[-3000:]

    clean_dir = tmp_path / "clean"
    clean_dir.mkdir()
    (clean_dir / "registry.db").write_bytes((settings.data_dir / "registry.db").read_bytes())
    clean = settings_for(clean_dir, redis_url.rsplit("/", 1)[0] + "/1", settings.kafka.bootstrap_servers)
    drain(clean, spark, "user_txn_1h", max_offsets_per_trigger=LIMIT, timeout_s=240)

    users = sorted({e["user_id"] for e in events})
    after_crash, clean_values = online_rows(settings, FEATURES, users), online_rows(clean, FEATURES, users)
    assert after_crash == clean_values
    assert sum(v["txn_count_1h"] for v in clean_values.values()) > 0
    assert offline_rows(settings, "user_txn_1h") == offline_rows(clean, "user_txn_1h")
