"""Every environment file loads and validates; environments differ only in configuration."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from featurekit.config import ConfigError, load_settings
from featurekit.config.interpolation import MissingVariableError, interpolate
from featurekit.config.loader import DEFAULT_ENV, ENV_VAR, ROOT_VAR, active_env, environment_names, project_root
from featurekit.offline.athena import AthenaOfflineStore
from featurekit.offline.parquet import ParquetOfflineStore
from support.environments import environment_file

SECRETS = {"FEATUREKIT_REDIS_PASSWORD": "s3cret"}


def test_every_environment_file_loads() -> None:
    names = environment_names()
    assert {"local", "dev", "prod"} <= set(names)
    for name in names:
        settings = load_settings(name, environ=SECRETS)
        assert settings.env == name
        assert {"hot", "warm"} <= set(settings.online_store.tiers)


def key_paths(node: object, prefix: str = "") -> set[str]:
    """Every dotted key path of a parsed environment file, leaves included. A section with a ``type`` discriminator
    (``warehouse``, ``offline_store``) contributes only its own name: an environment may choose another backend,
    whose keys are compared among the environments using it by :func:`backend_keys`."""
    if not isinstance(node, dict):
        return {prefix}
    if prefix and "type" in node:
        return {prefix}
    return set().union(*(key_paths(v, f"{prefix}.{k}" if prefix else str(k)) for k, v in node.items()))


def backend_keys(files: dict[str, dict]) -> dict[str, dict[str, set[str]]]:
    """``section[type]`` -> environment -> that section's nested keys, for every discriminated section."""
    out: dict[str, dict[str, set[str]]] = {}
    for env, data in files.items():
        for section, value in data.items():
            if isinstance(value, dict) and "type" in value:
                inner = {k: v for k, v in value.items() if k != "type"}
                out.setdefault(f"{section}[{value['type']}]", {})[env] = key_paths(inner)
    return out


def environment_files() -> dict[str, dict]:
    import yaml

    return {p.stem: yaml.safe_load(p.read_text()) for p in (project_root() / "config").glob("*.yaml")}


def test_environments_share_the_same_nested_keys() -> None:
    files = environment_files()
    shapes = {env: key_paths(data) for env, data in files.items()}
    every = set().union(*shapes.values())
    missing = {env: sorted(every - shape) for env, shape in shapes.items() if every - shape}
    assert missing == {}, f"keys some environment files have and these lack: {missing}"
    for backend, by_env in backend_keys(files).items():
        union = set().union(*by_env.values())
        assert all(keys == union for keys in by_env.values()), (backend, by_env)


def test_nested_key_comparison_catches_a_key_missing_deep_down() -> None:
    files = environment_files()
    del files["prod"]["quality"]["preview"]["max_rows"]
    shapes = {env: key_paths(data) for env, data in files.items()}
    assert "quality.preview.max_rows" in shapes["dev"] - shapes["prod"]
    files = environment_files()
    files["dev"]["offline_store"]["extra"] = 1
    assert backend_keys(files)["offline_store[athena]"]["dev"] != backend_keys(files)["offline_store[athena]"]["prod"]


def test_every_setting_of_the_model_is_written_in_every_file() -> None:
    """No setting hides in a code default: each field of the model (and of its nested sections) is in the files."""
    from pydantic import BaseModel

    from featurekit.config.settings import Settings

    def fields(model: type[BaseModel], prefix: str = "") -> set[str]:
        out = set()
        for name, info in model.model_fields.items():
            annotation = info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                out |= fields(annotation, f"{prefix}{name}.")
            else:
                out.add(f"{prefix}{name}")
        return out

    written = key_paths(environment_files()["prod"])
    # env: the file's name; online_store.type: the store's class for Feast, not a choice.
    expected = fields(Settings) - {"env", "online_store.type"}
    assert {f for f in expected if not any(w == f or w.startswith(f"{f}.") for w in written)} == set()


def test_orchestration_and_metrics_settings() -> None:
    local = load_settings("local", environ={})
    assert local.orchestration.start_date == datetime(2026, 1, 1, tzinfo=UTC)  # YAML date = midnight UTC
    assert local.orchestration.retries == 3 and local.orchestration.catchup is True
    assert local.orchestration.manifest_cache_dir is None  # empty: the user's cache directory
    assert local.metrics.pushgateway_url is None and local.metrics_textfile_dir() == local.data_dir / "metrics"
    pushed = load_settings("local", environ={"FEATUREKIT_PUSHGATEWAY_URL": "http://pushgateway:9091"})
    assert pushed.metrics.pushgateway_url == "http://pushgateway:9091"


def test_an_environment_file_path_selects_that_file(tmp_path: Path) -> None:
    path = environment_file(
        tmp_path,
        {
            "orchestration": {"start_date": "2025-06-01T06:00:00", "retries": 0, "manifest_cache_dir": "cache/dags"},
            "metrics": {"textfile_dir": "/var/lib/node_exporter/textfile"},
        },
    )
    settings = load_settings(str(path), environ={})
    assert settings.env == "local"
    assert settings.orchestration.start_date == datetime(2025, 6, 1, 6, tzinfo=UTC)
    assert settings.orchestration.retries == 0
    assert settings.orchestration.manifest_cache_dir == project_root() / "cache" / "dags"  # relative to the root
    assert settings.metrics_textfile_dir() == Path("/var/lib/node_exporter/textfile")
    with pytest.raises(ConfigError, match=r"unknown environment .*missing\.yaml"):
        load_settings(str(tmp_path / "missing.yaml"))
    bad = environment_file(tmp_path / "bad", {"orchestration": {"retries": -1}})
    with pytest.raises(ConfigError, match=r"orchestration\.retries"):
        load_settings(str(bad), environ={})


def test_one_default_environment_for_every_command() -> None:
    assert active_env(None, {}) == DEFAULT_ENV == "local"
    assert active_env(None, {"FEATUREKIT_ENV": "prod"}) == "prod"
    assert active_env("dev", {"FEATUREKIT_ENV": "prod"}) == "dev"


def test_code_reads_no_setting_from_the_process_environment() -> None:
    """Besides the variables that select the configuration, code names only variables the environment files
    reference (``${VAR}``): every other setting lives in config/*.yaml."""
    import re

    root = project_root()
    referenced = set()
    for path in (root / "config").glob("*.yaml"):
        referenced |= set(re.findall(r"\$\{([A-Z0-9_]+)", path.read_text()))
    # FEATUREKIT_TASK_PYTHON is where a deployment put the kit's interpreter (MWAA's startup script exports it),
    # a fact of the host like FEATUREKIT_ENV, not a setting of an environment file.
    allowed = {ENV_VAR, ROOT_VAR, "FEATUREKIT_TASK_PYTHON"} | referenced
    named = {}
    for folder in ("src", "dags", "streaming", "bench"):
        for path in (root / folder).rglob("*.py"):
            for name in re.findall(r"[\"'](FEATUREKIT_[A-Z0-9_]+)[\"']", path.read_text()):
                named.setdefault(name, set()).add(str(path.relative_to(root)))
            if re.search(r"environ(\.get\(|\[)[\"']GITHUB_", path.read_text()):
                named.setdefault("GITHUB_*", set()).add(str(path.relative_to(root)))
    assert {name: files for name, files in named.items() if name not in allowed} == {}


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
