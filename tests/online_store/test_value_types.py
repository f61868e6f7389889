"""Every Feast value type the kit supports, on every write path, read back exactly through Feast's ``online_read``.

One feature view per type (from :func:`featurekit.arrow_types.supported_types`, so a type added there is tested
here), five entities per view: typical values, a large or extreme value (NUL bytes, 64 KiB), an empty value, a null
and one more. Paths: the store's Arrow ``write_arrow``; Feast protobuf rows into ``online_write_batch``; stock Feast's
``write_to_online_store``, ``push`` and ``materialize``; and the streaming sink fed by a Spark DataFrame.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, PushSource, RepoConfig, ValueType
from feast.data_source import PushMode
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import Value
from feast.type_map import feast_value_type_to_python_type, python_values_to_proto_values
from feast.types import Array, Int64, Map, PdfBytes, ScalarMap, Set, ZonedTimestamp

from featurekit.arrow_types import UnsupportedFeastTypeError, arrow_type, supported_types
from featurekit.offline.layout import CREATED_FIELD, TIMESTAMP_FIELD
from featurekit.online_store.store import TieredRedisOnlineStore

STORE_TYPE = "featurekit.online_store.store.TieredRedisOnlineStore"
USER = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)
IDS = [1, 2, 3, 4, 5]
BIG = 64 * 1024
# Feast's protobuf timestamps are whole seconds, so the values are too (the Arrow path keeps microseconds).
T0 = datetime(1970, 1, 1, tzinfo=UTC)
T1 = datetime(2024, 4, 15, 23, 44, 14, tzinfo=UTC)
T2 = datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC)
U1, U2 = "262a60cd-6b70-4bfe-a151-cef32c28f95a", "d34c8356-a967-44e4-92e4-324a10e2f7a6"
TU = "5a48e898-ecfb-11f1-ad9e-02fc00000001"

# Five values per primitive type: [typical, large or extreme, empty or zero, null, another].
SCALARS: dict[str, list[Any]] = {
    "Bytes": [b"\x00a\x00b\x00", bytes(range(256)) * (BIG // 256), b"", None, b"\xff"],
    "String": ["nul\x00inside", "\u00e9" * (BIG // 2), "", None, "plain"],
    "Int32": [7, 2**31 - 1, 0, None, -(2**31)],
    # Feast's DataFrame paths pass a nullable integer column through float64: extremes that float64 holds exactly.
    "Int64": [7, 2**62, 0, None, -(2**63)],
    "Float32": [1.5, float(np.finfo(np.float32).max), 0.0, None, -3.25],
    "Float64": [0.1, -1e300, 0.0, None, 5e-324],
    "Bool": [True, False, False, None, True],
    "UnixTimestamp": [T1, T2, T0, None, T1],
    "PdfBytes": [b"%PDF-1.7\x00\n", b"%PDF" + bytes(BIG), b"", None, b"\xff"],
    "ImageBytes": [b"\x89PNG\r\n\x1a\n\x00", bytes(range(256)) * (BIG // 256), b"", None, b"GIF89a"],
    "Json": ['{"a": [1, 2.5, null], "nul": "\\u0000"}', json.dumps("x" * BIG), "{}", None, "[]"],
    "Uuid": [U1, "ffffffff-ffff-4fff-bfff-ffffffffffff", "00000000-0000-0000-0000-000000000000", None, U2],
    "TimeUuid": [TU, "5a48e898-ecfb-11f1-ad9e-02fc00000002", "00000000-0000-1000-8000-000000000000", None, TU],
    "Decimal": ["1.10", "-123456789012345678901234567890.000000001", "0", None, "1E+30"],
}
ARRAYS: dict[str, list[Any]] = {
    "Bytes": [[b"\x00", b"", b"\xff\x00"], [b"\x00" * BIG], [], None, [b"x"]],
    "String": [["a\x00", "", "\u00e9"], ["x" * BIG], [], None, ["one"]],
    "Int32": [[1, -(2**31), 2**31 - 1], list(range(BIG // 4)), [], None, [0]],
    "Int64": [[1, -(2**63), 2**63 - 1], list(range(BIG // 8)), [], None, [0]],
    "Float32": [[1.5, -3.25, 0.0], [0.5] * (BIG // 4), [], None, [float(np.finfo(np.float32).max)]],
    "Float64": [[0.1, -1e300, 5e-324], [2.5] * (BIG // 8), [], None, [0.0]],
    "Bool": [[True, False], [False] * BIG, [], None, [True]],
    "UnixTimestamp": [[T1, T0, T2], [T1] * 1000, [], None, [T2]],
    "Json": [['{"a": 1}', "null", '"\\u0000"'], [json.dumps(list(range(BIG // 8)))], [], None, ["[]"]],
    "Uuid": [[U1, U2], [U1] * 1000, [], None, [U2]],
    "TimeUuid": [[TU], [TU] * 1000, [], None, [TU]],
    "Decimal": [["1.10", "-0.000000001"], ["3.14159"] * 1000, [], None, ["1E+30"]],
}
TEXT_TYPES = {"Json", "Uuid", "TimeUuid", "Decimal"}
PATHS = ["write_arrow", "online_write_batch", "write_to_online_store", "push", "materialize", "stream"]


def values_for(feast_type: Any) -> list[Any]:
    if isinstance(feast_type, Array):
        return ARRAYS[str(feast_type.base_type)]
    return SCALARS[str(feast_type)]


def slug(feast_type: Any) -> str:
    return str(feast_type).lower().replace("array(", "array_").rstrip(")")


def test_every_supported_type_has_values() -> None:
    assert len(supported_types()) == 26  # 14 primitives; Feast has no array of PdfBytes or ImageBytes
    for feast_type in supported_types():
        assert len(values_for(feast_type)) == len(IDS)


def rows_table(feast_type: Any, at: datetime) -> pa.Table:
    return pa.table(
        {
            "user_id": pa.array(IDS, pa.int64()),
            "value": pa.array(values_for(feast_type), arrow_type(feast_type)),
            TIMESTAMP_FIELD: pa.array([at] * len(IDS), pa.timestamp("us", tz="UTC")),
            CREATED_FIELD: pa.array([at] * len(IDS), pa.timestamp("us", tz="UTC")),
        }
    )


class TypeRepo:
    """A Feast repo with one push-sourced view per type, over the test Redis."""

    def __init__(self, root: Path, redis_url: str, now: datetime) -> None:
        self.root, self.now = root, now
        self.config = self.repo_config(root, redis_url)
        self.views: dict[str, FeatureView] = {}
        for feast_type in supported_types():
            name = f"v_{slug(feast_type)}"
            path = root / f"{name}.parquet"
            pq.write_table(rows_table(feast_type, now - timedelta(hours=1)), path)
            batch = FileSource(
                name=f"{name}_file",
                path=str(path),
                timestamp_field=TIMESTAMP_FIELD,
                created_timestamp_column=CREATED_FIELD,
            )
            self.views[str(feast_type)] = FeatureView(
                name=name,
                entities=[USER],
                ttl=None,
                schema=[Field(name="user_id", dtype=Int64), Field(name="value", dtype=feast_type)],
                source=PushSource(name=f"{name}_push", batch_source=batch),
                tags={"schedule": "daily"},
            )
        self.fs = FeatureStore(config=self.config)
        self.fs.apply([USER, *self.views.values()])

    @staticmethod
    def repo_config(root: Path, redis_url: str) -> RepoConfig:
        return RepoConfig(
            project="fktypes",
            provider="local",
            registry=str(root / "registry.db"),
            entity_key_serialization_version=3,
            online_store={"type": STORE_TYPE, "tiers": {"warm": {"url": redis_url}}, "default_tier": "warm"},
            offline_store={"type": "file"},
            repo_path=str(root),
        )


@pytest.fixture(scope="module")
def type_repo(tmp_path_factory: pytest.TempPathFactory, redis_server: Any) -> TypeRepo:
    return TypeRepo(tmp_path_factory.mktemp("types"), redis_server.url, datetime.now(UTC).replace(microsecond=0))


def write(path: str, repo: TypeRepo, feast_type: Any, tmp_path: Path) -> None:
    view = repo.fs.get_feature_view(repo.views[str(feast_type)].name)
    at = repo.now - timedelta(minutes=30)
    table = rows_table(feast_type, at)
    frame = table.to_pandas(types_mapper=pd.ArrowDtype)
    store = repo.fs._get_provider().online_store
    if path == "write_arrow":
        store.write_arrow(repo.config, view, table)
    elif path == "online_write_batch":
        protos = python_values_to_proto_values(values_for(feast_type), feast_type.to_value_type())
        data = [
            (EntityKey(join_keys=["user_id"], entity_values=[Value(int64_val=i)]), {"value": p}, at, at)
            for i, p in zip(IDS, protos, strict=True)
        ]
        store.online_write_batch(repo.config, view, data, progress=None)
    elif path == "write_to_online_store":
        repo.fs.write_to_online_store(view.name, frame)
    elif path == "push":
        repo.fs.push(f"{view.name}_push", frame, to=PushMode.ONLINE)
    elif path == "materialize":
        repo.fs.materialize(repo.now - timedelta(hours=2), repo.now, feature_views=[view.name])
    elif path == "stream":
        write_through_stream_sink(repo, view, table.drop_columns([CREATED_FIELD]), tmp_path)
    else:
        raise AssertionError(path)


def write_through_stream_sink(repo: TypeRepo, view: FeatureView, table: pa.Table, tmp_path: Path) -> None:
    """The streaming sink's micro-batch path: a Spark DataFrame of feature rows -> Arrow -> offline + online."""
    from featurekit.config import load_settings
    from featurekit.streaming.session import spark_session
    from featurekit.streaming.sink import FeatureSink

    # The sink gates every micro-batch with the view's expectation suite: these ad-hoc views get an empty one.
    suites = tmp_path / "repo" / "feature_views"
    suites.mkdir(parents=True)
    (suites / f"{view.name}.expectations.yaml").write_text(f"view: {view.name}\nexpectations: []\n")
    settings = load_settings(
        "local",
        overrides={
            "feature_repo": str(tmp_path / "repo"),
            "data_dir": str(tmp_path),
            "offline_store": {"root": str(tmp_path / "offline")},
            "streaming": {"checkpoint_location": str(tmp_path / "checkpoints")},
        },
    )
    spark = spark_session(settings, "featurekit-type-tests")
    sink = FeatureSink(settings, f"types_{view.name}", "rows", view=view, repo_config=repo.config)
    try:
        sink(spark.createDataFrame(table), 0)
    finally:
        sink.online.close()


def read_back(repo: TypeRepo, feast_type: Any) -> list[Any]:
    view = repo.fs.get_feature_view(repo.views[str(feast_type)].name)
    keys = [EntityKey(join_keys=["user_id"], entity_values=[Value(int64_val=i)]) for i in IDS]
    rows = repo.fs._get_provider().online_store.online_read(repo.config, view, keys, ["value"])
    assert all(values is not None for _ts, values in rows), "every entity was written"
    return [feast_value_type_to_python_type(values["value"]) for _ts, values in rows]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("feast_type", supported_types(), ids=str)
def test_value_round_trips_exactly(type_repo: TypeRepo, redis_url: str, feast_type: Any, path: str, tmp_path) -> None:
    write(path, type_repo, feast_type, tmp_path)
    assert read_back(type_repo, feast_type) == feast_round_trip(feast_type)


def feast_round_trip(feast_type: Any) -> list[Any]:
    """What Feast itself makes of the values (its protobuf and back): the values themselves for most types; parsed
    JSON, ``uuid.UUID`` and ``decimal.Decimal`` objects for JSON, UUID and decimal features."""
    protos = python_values_to_proto_values(values_for(feast_type), feast_type.to_value_type())
    expected = [feast_value_type_to_python_type(p) for p in protos]
    base = feast_type.base_type if isinstance(feast_type, Array) else feast_type
    if str(base) not in TEXT_TYPES:
        assert expected == values_for(feast_type), "the test values survive Feast's own conversion"
    return expected


@pytest.mark.parametrize("feast_type", [Map, ScalarMap, ZonedTimestamp, Array(PdfBytes), Set(Int64)], ids=str)
def test_unsupported_types_fail_at_apply_naming_the_feature(tmp_path: Path, redis_url: str, feast_type: Any) -> None:
    from featurekit.online_store.errors import UnsupportedFeatureTypeError

    with pytest.raises(UnsupportedFeastTypeError, match=re.escape(f"Feast type {feast_type} is not supported")):
        arrow_type(feast_type)
    config = TypeRepo.repo_config(tmp_path, redis_url)
    view = FeatureView(
        name="odd",
        entities=[USER],
        schema=[Field(name="user_id", dtype=Int64), Field(name="odd_value", dtype=feast_type)],
        source=FileSource(path=str(tmp_path / "none.parquet"), timestamp_field=TIMESTAMP_FIELD),
    )
    with pytest.raises(UnsupportedFeatureTypeError, match=r"feature 'odd_value' has type"):
        TieredRedisOnlineStore().update(config, [], [view], [], [USER], partial=False)
