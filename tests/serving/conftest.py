"""Fixtures for the serving tests: the Feast project of :mod:`support.serving_project` applied per test to a file
registry and the test Redis, with its rows written, and a reader over it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from feast import FeatureStore

from support.serving_project import OBJECTS, write_fixture_data, write_repo


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def feature_store(tmp_path: Path, redis_url: str, now: datetime) -> Iterator[FeatureStore]:
    write_repo(tmp_path / "repo", redis_url)
    store = FeatureStore(repo_path=str(tmp_path / "repo"))
    store.apply(OBJECTS)
    store.user13_expires_at = write_fixture_data(store, now)  # type: ignore[attr-defined]
    yield store
    store._get_provider().online_store.close()


@pytest.fixture
def reader(feature_store: FeatureStore) -> Iterator[Any]:
    from featurekit.serving import OnlineFeatureReader

    r = OnlineFeatureReader.from_feature_store(feature_store)
    yield r
    r.close()
