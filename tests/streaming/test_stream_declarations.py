"""``featurekit check`` on stream views: a missing or inconsistent transform, schema or topic is rejected with the
file, the object and the rule; ``featurekit stream list`` shows the jobs generated from the bundled repo."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from featurekit.config import project_root
from support.streams import settings_for

BROKEN = '''"""Stream views that each break one declaration rule."""

from datetime import timedelta

from data_sources import balance_events
from entities import user
from feast import Aggregation, Field
from feast.stream_feature_view import StreamFeatureView
from feast.types import Int64

from featurekit.config.active import current_settings
from featurekit.offline.sources import kafka_source, offline_source

settings = current_settings()
HOUR = timedelta(hours=1)


def view(name, source, fields, **extra):
    return StreamFeatureView(
        name=name,
        entities=[user],
        ttl=HOUR,
        schema=[Field(name="user_id", dtype=Int64), *[Field(name=f, dtype=Int64) for f in fields]],
        source=source,
        timestamp_field="event_timestamp",
        online=True,
        description="broken on purpose",
        owner="tests@featurekit.example",
        tags={"tier": "hot", "schedule": "stream", "freshness_slo": "5m", **extra.pop("tags", {})},
        **extra,
    )


no_transform = view(
    "no_transform", balance_events, ["balance_cents"], tags={"featurekit.transform": "feature_views.broken:gone"}
)
bad_schema_source = kafka_source(
    settings,
    name="bad_schema_source",
    topic="clicks",
    schema="user_id bigint, event_timestamp timestamp, payload map",
    batch_source=offline_source(settings, "bad_schema", "x"),
    description="x",
)
bad_schema = view("bad_schema", bad_schema_source, ["clicks"])
other_balance_source = kafka_source(
    settings,
    name="other_balance_source",
    topic="balance-events",
    schema="user_id bigint, event_timestamp timestamp",
    batch_source=offline_source(settings, "same_topic", "x"),
    description="x",
)
same_topic = view("same_topic", other_balance_source, [])
no_topic_source = kafka_source(
    settings,
    name="no_topic_source",
    topic="",
    schema="user_id bigint, event_timestamp timestamp",
    batch_source=offline_source(settings, "no_topic", "x"),
    description="x",
)
no_topic = view("no_topic", no_topic_source, [])
window_mismatch = view(
    "window_mismatch",
    balance_events,
    ["balance_count_1h"],
    aggregations=[Aggregation(column="nope", function="count", time_window=HOUR, name="balance_count_1h")],
)
'''


def test_check_names_file_object_and_rule_for_broken_stream_views(tmp_path: Path) -> None:
    from featurekit.repo.loader import load_repo
    from featurekit.repo.rules import check_repo

    repo = tmp_path / "feature_repo"
    shutil.copytree(project_root() / "feature_repo", repo, ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "feature_views" / "broken.py").write_text(BROKEN)
    for name in ("no_transform", "bad_schema", "same_topic", "no_topic", "window_mismatch"):
        sql = "SELECT CAST(NULL AS BIGINT) AS user_id, CAST(NULL AS TIMESTAMP) AS event_timestamp WHERE FALSE"
        (repo / "feature_views" / f"{name}.sql").write_text(f"-- {name}\n{sql}\n")
    settings = settings_for(tmp_path, "redis://127.0.0.1:9/0", "127.0.0.1:9", feature_repo=str(repo))
    found: dict[tuple[str, str, str], str] = {}
    for v in check_repo(load_repo(settings)):
        if v.rule.startswith("stream"):
            found[v.file, v.name, v.rule] = found.get((v.file, v.name, v.rule), "") + v.message + "\n"

    file = "feature_views/broken.py"
    assert "not a top-level function" in found[(file, "no_transform", "stream-transform")]
    assert "'payload' has type 'map'" in found[(file, "bad_schema", "stream-schema")]
    assert "also read by" in found[(file, "same_topic", "stream-topic")]
    assert "has no topic" in found[(file, "no_topic", "stream-topic")]
    assert "column 'nope'" in found[(file, "window_mismatch", "stream-window")]
    # the bundled views pass, except that the balance topic now has two declarations (reported on both sides)
    bundled = {k[1:]: m for k, m in found.items() if k[1] in ("user_balance_live", "user_txn_1h")}
    assert list(bundled) == [("user_balance_live", "stream-topic")], bundled
    assert "'same_topic'" in bundled["user_balance_live", "stream-topic"]


def test_stream_list_shows_the_generated_jobs(monkeypatch) -> None:
    from featurekit.cli import options
    from featurekit.cli.main import app

    monkeypatch.chdir(project_root())
    monkeypatch.setattr(options.console, "width", 250)  # one table row per line
    result = CliRunner().invoke(app, ["stream", "list", "--env", "local"])
    assert result.exit_code == 0, result.output
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") > 5}
    assert "balance-events" in lines["user_balance_live"] and "latest" in lines["user_balance_live"]
    assert "balance_rows (pandas)" in lines["user_balance_live"]
    assert "sliding 1h/5m" in lines["user_txn_1h"] and "transactions.dlq" in lines["user_txn_1h"]
    assert "user_txn_1h_dead_letters" in lines["user_txn_1h"]


def test_stream_produce_sends_json_lines_keyed_by_the_views_join_key(monkeypatch, tmp_path, kafka_broker) -> None:
    from featurekit.cli.main import app
    from support.streams import read_topic

    monkeypatch.chdir(project_root())
    events = tmp_path / "events.jsonl"
    good = '{"user_id": 7, "balance": 1.5, "balance_source": "passive", "event_timestamp": "2026-06-01T00:00:00Z"}'
    events.write_text(f"{good}\n\nnot json\n")
    env = {"FEATUREKIT_KAFKA_BOOTSTRAP": kafka_broker.bootstrap_servers, "FEATUREKIT_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(app, ["stream", "produce", "user_balance_live", str(events), "--env", "local"], env=env)
    assert result.exit_code == 0, result.output
    assert "2 events to balance-events (1 without a key" in result.output
    settings = settings_for(tmp_path, "redis://127.0.0.1:9/0", kafka_broker.bootstrap_servers)
    messages = sorted(read_topic(settings, "balance-events"), key=lambda m: m.value())
    assert [(m.key(), m.value()) for m in messages] == [(None, b"not json"), (b"7", good.encode())]
