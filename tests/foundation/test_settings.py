"""Every environment file loads and validates; environments differ only in configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from featurekit.config import ConfigError, load_settings
from featurekit.config.interpolation import MissingVariableError, interpolate
from featurekit.config.loader import environment_names, project_root
from featurekit.offline.athena import AthenaOfflineStore
from featurekit.offline.parquet import ParquetOfflineStore

SECRETS = {"FEATUREKIT_REDIS_PASSWORD": "s3cret"}


def test_every_environment_file_loads() -> None:
    names = environment_names()
    assert {"local", "dev", "prod"} <= set(names)
    for name in names:
        settings = load_settings(name, environ=SECRETS)
        assert settings.env == name
        assert {"hot", "warm"} <= set(settings.online_store.tiers)


def test_environments_share_the_same_keys() -> None:
    import yaml

    root = project_root()

    def keys(node: object, prefix: str = "") -> set[str]:
        if not isinstance(node, dict):
            return {prefix}
        return set().union(*(keys(v, f"{prefix}.{k}") for k, v in node.items()))

    shapes = {p.stem: keys(yaml.safe_load(p.read_text())) for p in (root / "config").glob("*.yaml")}
    top_level = {name: {k.split(".")[1] for k in shape} for name, shape in shapes.items()}
    assert len({frozenset(v) for v in top_level.values()}) == 1, top_level


def test_local_is_embedded_and_aws_environments_are_separate() -> None:
    local = load_settings("local", environ={})
    dev = load_settings("dev", environ=SECRETS)
    prod = load_settings("prod", environ=SECRETS)
    assert isinstance(local.offline_store, ParquetOfflineStore)
    assert Path(local.registry.path).is_absolute()
    assert isinstance(prod.offline_store, AthenaOfflineStore)
    assert dev.registry.path.startswith("s3://") and prod.registry.path.startswith("s3://")
    assert dev.registry.path != prod.registry.path
    assert prod.online_store.tiers["warm"].url.startswith("rediss://")
    assert prod.online_store.tiers["warm"].password.get_secret_value() == "s3cret"


def test_secret_reference_without_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"FEATUREKIT_REDIS_PASSWORD"):
        load_settings("prod", environ={})


def test_unknown_environment_lists_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown environment 'staging'.*local"):
        load_settings("staging")


def test_typo_in_a_key_fails_loudly(tmp_path: Path) -> None:
    root = project_root()
    (tmp_path / "config").mkdir()
    (tmp_path / "feature_repo").mkdir()
    text = (root / "config" / "local.yaml").read_text().replace("cache_ttl_seconds", "cache_ttl_secnds")
    (tmp_path / "config" / "local.yaml").write_text(text)
    with pytest.raises(ConfigError, match="cache_ttl_secnds"):
        load_settings("local", root=tmp_path, environ={})


def test_interpolation_defaults_and_nesting() -> None:
    data = {"a": "${X:-fallback}", "b": ["${Y}", 3], "c": {"d": "pre-${X:-z}-post"}}
    assert interpolate(data, {"Y": "y"}) == {"a": "fallback", "b": ["y", 3], "c": {"d": "pre-z-post"}}
    with pytest.raises(MissingVariableError, match=r"b\[0\]"):
        interpolate(data, {})


def test_no_code_branches_on_environment_names() -> None:
    source = project_root() / "src" / "featurekit"
    offenders = [
        str(path)
        for path in source.rglob("*.py")
        for line in path.read_text().splitlines()
        if any(f'"{env}"' in line and ("env ==" in line or "env !=" in line) for env in ("local", "dev", "prod"))
    ]
    assert offenders == []
