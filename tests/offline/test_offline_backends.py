"""The offline backend kind: each backend is one module (config + implementation) behind one protocol, chosen by
``offline_store.type`` in the environment file."""

from __future__ import annotations

from pathlib import Path

import pytest

from featurekit.config import ConfigError, load_settings
from featurekit.config.backends import OFFLINE_STORES, OfflineBackend, backend_class
from featurekit.config.loader import project_root
from featurekit.offline.athena import AthenaOfflineStore
from featurekit.offline.parquet import ParquetOfflineStore
from featurekit.offline.storage import offline_location
from featurekit.repo.feast_config import feature_store_dict

SECRETS = {"FEATUREKIT_REDIS_PASSWORD": "s3cret"}


def _env_with(tmp_path: Path, replace: tuple[str, str]) -> Path:
    root = project_root()
    (tmp_path / "config").mkdir()
    (tmp_path / "feature_repo").mkdir()
    text = (root / "config" / "local.yaml").read_text()
    assert replace[0] in text
    (tmp_path / "config" / "local.yaml").write_text(text.replace(*replace))
    return tmp_path


def test_every_registered_backend_implements_the_protocol(tmp_path: Path) -> None:
    examples = {"parquet": {"root": str(tmp_path)},
                "athena": {"s3_root": "s3://b/offline", "database": "d", "workgroup": "w",
                           "results_location": "s3://b/results", "region": "eu-west-1"}}  # fmt: skip
    assert set(examples) == set(OFFLINE_STORES)
    for kind, fields in examples.items():
        store = backend_class(OFFLINE_STORES, "offline_store", kind).model_validate({"type": kind, **fields})
        assert isinstance(store, OfflineBackend) and store.type == kind


def test_settings_hold_the_backend_and_dump_it_as_plain_data() -> None:
    local = load_settings("local", environ={})
    prod = load_settings("prod", environ=SECRETS)
    assert type(local.offline_store) is ParquetOfflineStore and type(prod.offline_store) is AthenaOfflineStore
    for settings in (local, prod):
        dumped = settings.model_dump(mode="json")
        assert dumped["offline_store"]["type"] == settings.offline_store.type
        assert type(settings).model_validate(settings.model_dump()) == settings


def test_unknown_backend_type_names_the_key_and_the_known_kinds(tmp_path: Path) -> None:
    root = _env_with(tmp_path, ("type: parquet", "type: parket"))
    with pytest.raises(ConfigError, match=r"offline_store\.type: unknown backend 'parket' \(known: athena, parquet\)"):
        load_settings("local", root=root, environ={})


def test_a_backend_type_that_is_not_a_name_gets_the_same_clear_error(tmp_path: Path) -> None:
    root = _env_with(tmp_path, ("type: parquet", "type: [parquet]"))
    with pytest.raises(
        ConfigError, match=r"offline_store\.type: unknown backend \['parquet'\] \(known: athena, parquet\)"
    ):
        load_settings("local", root=root, environ={})


def test_a_typo_inside_the_backend_block_names_the_nested_key(tmp_path: Path) -> None:
    root = _env_with(tmp_path, ("  root:", "  rot:"))
    with pytest.raises(ConfigError, match=r"offline_store\.rot"):
        load_settings("local", root=root, environ={})


def test_parquet_backend_local_files_feast_file_source_and_kit_store(tmp_path: Path) -> None:
    store = ParquetOfflineStore(root=tmp_path / "offline")
    location = offline_location(store)
    assert (tmp_path / "offline").is_dir() and location.uri == str(tmp_path / "offline")
    assert store.publish_partition("v", "2026-01-01") == "files"
    source = store.feast_source("v", "rows of v")
    assert source.path == str(tmp_path / "offline" / "v" / "*" / "*.parquet") and source.name == "v_offline"
    assert store.feast_store_block(False) == {
        "type": "featurekit.offline.retrieval.FeaturekitOfflineStore",
        "training_requires_validation": False,
    }


def test_athena_backend_names_its_glue_table_and_feast_athena_store() -> None:
    settings = load_settings("prod", environ=SECRETS)
    store = settings.offline_store
    assert isinstance(store, AthenaOfflineStore)
    source = store.feast_source("v", "rows of v")
    assert source.get_table_query_string() == f'"AwsDataCatalog"."{store.database}"."v"'
    block = feature_store_dict(settings)["offline_store"]
    assert block == {"type": "featurekit.offline.athena_training.ValidatedAthenaOfflineStore",
                     "s3_root": store.s3_root, "training_requires_validation": True, "region": store.region,
                     "database": store.database, "data_source": "AwsDataCatalog", "workgroup": store.workgroup,
                     "s3_staging_location": store.results_location}  # fmt: skip


def test_the_online_store_model_is_loaded_by_its_feast_type_path(tmp_path: Path) -> None:
    from featurekit.config.backends import ONLINE_STORES
    from featurekit.online_store.config import STORE_TYPE, TieredRedisOnlineStoreConfig

    assert list(ONLINE_STORES) == [STORE_TYPE]
    local = load_settings("local", environ={})
    assert type(local.online_store) is TieredRedisOnlineStoreConfig and local.online_store.type == STORE_TYPE
    root = _env_with(tmp_path, ("online_store:\n", "online_store:\n  type: my.module.RedisStore\n"))
    with pytest.raises(ConfigError, match=r"online_store\.type: unknown backend 'my\.module\.RedisStore'"):
        load_settings("local", root=root, environ={})
