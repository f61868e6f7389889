"""``featurekit drift`` and ``featurekit impact`` as an operator runs them."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from featurekit.cli.main import app
from featurekit.pipelines.extract import extract_view
from support.monitoring_history import TODAY, History


def run(history: History, *args: str):
    env = {"FEATUREKIT_DATA_DIR": str(history.data), "COLUMNS": "200"}
    return CliRunner().invoke(app, list(args), env=env)


def test_drift_report_names_the_drifted_feature_and_draws_the_chart(history: History, tmp_path) -> None:
    quiet = run(history, "drift", "--view", "user_profile")
    assert quiet.exit_code == 0, quiet.output
    assert "no drift over threshold" in quiet.output

    history.warehouse("UPDATE users SET birth_date = birth_date - INTERVAL 20 YEAR")  # everyone 20 years older
    extract_view(history.settings, history.view("user_profile"), TODAY)
    png = tmp_path / "drift.png"
    drifted = run(history, "drift", "--png", str(png))

    assert drifted.exit_code == 2, drifted.output
    assert "age_years" in drifted.output and "drifted" in drifted.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    as_json = run(history, "drift", "--json", "--view", "user_profile")
    (newest,) = json.loads(as_json.output)["user_profile"]
    assert {d["feature"] for d in newest["drifted"] if d["slice"] == "*"} == {"age_years"}


def test_impact_prints_the_blast_radius(history: History) -> None:
    result = run(history, "impact", "balance_checks", "--json")
    assert result.exit_code == 0, result.output
    radius = json.loads(result.output)
    assert set(radius["views"]) == {"user_balance_live", "cash_advance_ratios"}
    assert radius["services"] == {"cash_advance_v1": "risk-ml@featurekit.example"}
    unknown = run(history, "impact", "ledger")
    assert unknown.exit_code == 1 and "neither a feature view" in unknown.output
