"""Terraform `featurekit_settings` output -> settings overrides (src/featurekit/config/terraform.py)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from featurekit.config import load_settings
from featurekit.config.terraform import (
    OUTPUT_NAME,
    REQUIRED_KEYS,
    TerraformOutputError,
    deep_merge,
    overrides_from_terraform_output,
)
from support.tfcode import REPO_ROOT

FIXTURE = Path(__file__).parent / "fixtures" / "terraform-output-prod.json"


def _outputs() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "tf-output.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def _drop(tree: dict[str, Any], dotted: str) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        tree = tree[part]
    del tree[leaf]


def test_reads_the_settings_value_from_terraform_output_json() -> None:
    overrides = overrides_from_terraform_output(FIXTURE)
    assert overrides == _outputs()[OUTPUT_NAME]["value"]
    assert overrides["registry"]["path"] == "s3://featurekit-prod-registry/registry.pb"
    assert overrides["online_store"]["tiers"]["warm"]["url"].startswith("rediss://")
    assert overrides["offline_store"]["results_location"].endswith("/athena-results/")
    assert "ci_role_arn" not in overrides  # other outputs are not settings


def test_result_is_a_copy() -> None:
    first = overrides_from_terraform_output(FIXTURE)
    first["registry"]["path"] = "changed"
    assert overrides_from_terraform_output(FIXTURE)["registry"]["path"] != "changed"


@pytest.mark.parametrize("key", REQUIRED_KEYS)
def test_each_missing_key_is_named(tmp_path: Path, key: str) -> None:
    outputs = _outputs()
    _drop(outputs[OUTPUT_NAME]["value"], key)
    with pytest.raises(TerraformOutputError) as excinfo:
        overrides_from_terraform_output(_write(tmp_path, outputs))
    message = str(excinfo.value)
    assert key in message and "1 required key" in message
    assert str(tmp_path / "tf-output.json") in message


def test_all_missing_keys_are_named_at_once(tmp_path: Path) -> None:
    outputs = _outputs()
    del outputs[OUTPUT_NAME]["value"]["online_store"]
    outputs[OUTPUT_NAME]["value"]["kafka"]["bootstrap_servers"] = ""
    with pytest.raises(TerraformOutputError, match="3 required key") as excinfo:
        overrides_from_terraform_output(_write(tmp_path, outputs))
    for key in ("online_store.tiers.hot.url", "online_store.tiers.warm.url", "kafka.bootstrap_servers"):
        assert key in str(excinfo.value)


def test_null_value_counts_as_missing(tmp_path: Path) -> None:
    outputs = _outputs()
    outputs[OUTPUT_NAME]["value"]["streaming"]["checkpoint_location"] = None
    with pytest.raises(TerraformOutputError, match=r"streaming\.checkpoint_location"):
        overrides_from_terraform_output(_write(tmp_path, outputs))


def test_missing_output_lists_what_is_there(tmp_path: Path) -> None:
    outputs = _outputs()
    del outputs[OUTPUT_NAME]
    with pytest.raises(TerraformOutputError, match=r"no output 'featurekit_settings'.*ci_role_arn"):
        overrides_from_terraform_output(_write(tmp_path, outputs))


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("not json {", "not JSON"),
        ("[1, 2]", "JSON object of Terraform outputs"),
        (json.dumps({OUTPUT_NAME: {"registry": {}}}), "has no 'value'"),
        (json.dumps({OUTPUT_NAME: {"value": "s3://x"}}), "must be a map"),
    ],
)
def test_malformed_files_are_rejected(tmp_path: Path, content: str, match: str) -> None:
    with pytest.raises(TerraformOutputError, match=match):
        overrides_from_terraform_output(_write(tmp_path, content))


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(TerraformOutputError, match="cannot read"):
        overrides_from_terraform_output(tmp_path / "absent.json")


def test_error_is_a_config_error() -> None:
    from featurekit.config import ConfigError

    assert issubclass(TerraformOutputError, ConfigError)


def test_deep_merge_overrides_leaves_and_keeps_siblings() -> None:
    base = {"a": {"b": 1, "c": {"d": 2, "e": 3}}, "f": [1, 2], "g": "x"}
    overrides = {"a": {"c": {"d": 20}, "new": True}, "f": [9], "h": None}
    before = copy.deepcopy(base), copy.deepcopy(overrides)
    merged = deep_merge(base, overrides)
    assert merged == {"a": {"b": 1, "c": {"d": 20, "e": 3}, "new": True}, "f": [9], "g": "x", "h": None}
    assert (base, overrides) == before, "inputs must not be modified"
    merged["a"]["c"]["e"] = 99
    assert base["a"]["c"]["e"] == 3, "result must not share nested dicts with base"


def test_deep_merge_scalar_replaces_mapping_and_back() -> None:
    assert deep_merge({"a": {"b": 1}}, {"a": "flat"}) == {"a": "flat"}
    assert deep_merge({"a": "flat"}, {"a": {"b": 1}}) == {"a": {"b": 1}}
    assert deep_merge({}, {}) == {}


def test_rendered_prod_settings_keep_yaml_only_fields() -> None:
    base = yaml.safe_load((REPO_ROOT / "config" / "prod.yaml").read_text())
    merged = deep_merge(base, overrides_from_terraform_output(FIXTURE))
    hot = merged["online_store"]["tiers"]["hot"]
    assert hot["url"] == "rediss://master.featurekit-prod-hot.ab12cd.use1.cache.amazonaws.com:6379"
    assert hot["password"] == "${FEATUREKIT_REDIS_PASSWORD}", "secrets stay references from the YAML"
    assert merged["offline_store"]["database"] == "featurekit_prod"
    assert merged["project"] == base["project"]


def test_overrides_validate_against_the_kit_settings_model() -> None:
    settings = load_settings(
        "prod",
        root=REPO_ROOT,
        environ={"FEATUREKIT_REDIS_PASSWORD": "from-secrets-manager"},
        overrides=overrides_from_terraform_output(FIXTURE),
    )
    assert settings.registry.path == "s3://featurekit-prod-registry/registry.pb"
    assert str(settings.online_store.tiers["warm"].url).startswith("rediss://master.featurekit-prod-warm.")
    assert settings.kafka.bootstrap_servers.startswith("b-1.featurekit-prod-kafka.")
    assert settings.streaming.checkpoint_location == "s3://featurekit-prod-checkpoints/checkpoints"


def test_deep_merge_is_the_settings_wide_one() -> None:
    from featurekit.config.merge import deep_merge as settings_deep_merge

    assert deep_merge is settings_deep_merge


def test_cli_renders_the_environment_file_from_terraform_output(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from featurekit.cli.main import app

    out = tmp_path / "prod.yaml"
    result = CliRunner().invoke(
        app, ["config", "render", "--env", "prod", "--terraform-output", str(FIXTURE), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    rendered = yaml.safe_load(out.read_text())
    expected = overrides_from_terraform_output(FIXTURE)
    for key in REQUIRED_KEYS:
        node_r, node_e = rendered, expected
        for part in key.split("."):
            node_r, node_e = node_r[part], node_e[part]
        assert node_r == node_e, key
    assert rendered["online_store"]["tiers"]["warm"]["password"] == "${FEATUREKIT_REDIS_PASSWORD}"


def test_cli_names_the_missing_key(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from featurekit.cli.main import app

    outputs = _outputs()
    _drop(outputs[OUTPUT_NAME]["value"], "online_store.tiers.warm.url")
    result = CliRunner().invoke(
        app,
        [
            "config",
            "render",
            "--env",
            "prod",
            "--terraform-output",
            str(_write(tmp_path, outputs)),
            "--out",
            str(tmp_path / "prod.yaml"),
        ],
    )
    assert result.exit_code != 0
    assert "online_store.tiers.warm.url" in result.output
    assert not (tmp_path / "prod.yaml").exists()
