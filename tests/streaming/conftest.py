"""Fixtures for the streaming tests: a real tansu broker per test, one local[2] SparkSession and one applied
registry per test session, and settings that point every store at the test's own directory."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from featurekit.config import Settings
from featurekit.services.kafka_broker import KafkaBroker
from support.streams import settings_for


@pytest.fixture
def kafka_broker() -> Iterator[KafkaBroker]:
    """A fresh in-memory tansu broker (starts in well under a second), so tests never share topics."""
    with KafkaBroker.start() as broker:
        yield broker


@pytest.fixture(scope="session")
def applied_registry(tmp_path_factory: pytest.TempPathFactory, redis_server: Any) -> Path:
    """The feature repo applied once per session; tests copy the registry file into their own data dir."""
    from featurekit.repo.apply import apply_repo

    root = tmp_path_factory.mktemp("registry")
    apply_repo(settings_for(root, redis_server.url, "127.0.0.1:9"))
    return root / "registry.db"


@pytest.fixture(scope="session")
def repo_specs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The stream view specs the kit derives from the bundled feature repo (loaded once per session)."""
    from featurekit.repo.loader import load_repo
    from featurekit.repo.streams import stream_specs

    settings = settings_for(tmp_path_factory.mktemp("specs"), "redis://127.0.0.1:9/0", "127.0.0.1:9")
    specs, problems = stream_specs(load_repo(settings))
    assert not problems, problems
    return {s.view: s for s in specs}


@pytest.fixture
def stream_settings(tmp_path: Path, redis_url: str, kafka_broker: KafkaBroker, applied_registry: Path) -> Settings:
    from examples.cash_advance.events import TOPICS
    from featurekit.streaming.producer import ensure_topics

    shutil.copy(applied_registry, tmp_path / "registry.db")
    settings = settings_for(tmp_path, redis_url, kafka_broker.bootstrap_servers)
    ensure_topics(settings, [*TOPICS.values(), *(f"{t}{settings.kafka.dlq_suffix}" for t in TOPICS.values())])
    return settings


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory, redis_server: Any) -> Iterator[Any]:
    """One local[2] SparkSession for the whole test session (JVM start-up is the slow part)."""
    from featurekit.streaming.session import spark_session

    root = tmp_path_factory.mktemp("spark")
    session = spark_session(settings_for(root, redis_server.url, "127.0.0.1:9"), "featurekit-stream-tests")
    yield session
    session.stop()


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto S3 server on a free port with a ``checkpoints`` bucket; the AWS environment points at it."""
    from support.moto_s3 import AWS_ENV, moto_s3

    with moto_s3(["checkpoints"]) as endpoint:
        for key, value in {**AWS_ENV, "AWS_ENDPOINT_URL": endpoint}.items():
            monkeypatch.setenv(key, value)
        yield endpoint
