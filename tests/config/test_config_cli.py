"""``featurekit config``: render an environment from Terraform outputs; show settings without secrets."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from featurekit.cli.main import app
from featurekit.config import load_settings
from featurekit.config.loader import project_root

FIXTURE = project_root() / "tests" / "infra" / "fixtures" / "terraform-output-prod.json"


def test_render_merges_terraform_endpoints_and_keeps_secret_references(tmp_path: Path) -> None:
    out = tmp_path / "prod.yaml"
    result = CliRunner().invoke(
        app, ["config", "render", "--env", "prod", "--terraform-output", str(FIXTURE), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    rendered = yaml.safe_load(out.read_text())
    expected = json.loads(FIXTURE.read_text())["featurekit_settings"]["value"]
    assert rendered["registry"]["path"] == expected["registry"]["path"]
    assert rendered["online_store"]["tiers"]["warm"]["url"] == expected["online_store"]["tiers"]["warm"]["url"]
    assert rendered["online_store"]["tiers"]["warm"]["password"] == "${FEATUREKIT_REDIS_PASSWORD}"
    assert rendered["kafka"]["bootstrap_servers"] == expected["kafka"]["bootstrap_servers"]


def test_render_rejects_an_output_missing_keys(tmp_path: Path) -> None:
    broken = json.loads(FIXTURE.read_text())
    del broken["featurekit_settings"]["value"]["kafka"]
    path = tmp_path / "out.json"
    path.write_text(json.dumps(broken))
    result = CliRunner().invoke(
        app, ["config", "render", "--env", "prod", "--terraform-output", str(path), "--out", str(tmp_path / "x.yaml")]
    )
    assert result.exit_code == 1
    assert "kafka.bootstrap_servers" in result.output
    assert not (tmp_path / "x.yaml").exists()


def test_show_masks_secrets(monkeypatch) -> None:
    monkeypatch.setenv("FEATUREKIT_REDIS_PASSWORD", "hunter2")
    result = CliRunner().invoke(app, ["config", "show", "--env", "prod"])
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output
    assert load_settings("prod").online_store.tiers["hot"].password.get_secret_value() == "hunter2"
