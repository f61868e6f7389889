"""``featurekit plan --preview``: figures of the data each new or changed view produces, the current definition
side by side, the suite's result, and a failing preview reported instead of crashing the plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from featurekit.cli.main import app
from support.batch_project import REPO_ROOT, BatchProject, make_project


@pytest.fixture
def project(tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> BatchProject:
    return make_project(tmp_path, redis_url, monkeypatch, users=80, days=3)


def edit(project: BatchProject, view: str, old: str, new: str) -> None:
    path = project.sql_file(view)
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new))


def test_changed_view_shows_current_and_proposed_figures_and_a_failed_suite(project: BatchProject) -> None:
    # The PR renames a quarter of the employment types to a value the suite does not allow.
    edit(
        project,
        "user_profile",
        "    u.employment_type,",
        "    CASE WHEN u.user_id % 4 = 0 THEN 'astronaut' ELSE u.employment_type END AS employment_type,",
    )
    # ... and breaks another view's SQL: its preview fails, the plan still comes out.
    edit(project, "user_txn_30d", "COUNT(t.txn_id)", "COUNT(t.no_such_column)")
    base = str(REPO_ROOT / "feature_repo")

    out = project.root / "out"
    args = ["plan", "--preview", "--preview-base", base, "--format", "json", "--output", str(out / "plan.json")]
    result = CliRunner().invoke(app, [*args, "--markdown-file", str(out / "plan.md")])
    assert result.exit_code == 0, result.output
    preview = json.loads((out / "plan.json").read_text())["preview"]
    views = {v["view"]: v for v in preview["views"]}
    assert sorted(views) == ["user_profile", "user_txn_30d"]  # only what changed against the base

    profile = views["user_profile"]
    assert profile["status"] == "changed"
    current, proposed = profile["current"], profile["proposed"]
    assert current["rows"] == proposed["rows"] == current["entities"] > 0
    assert current["suite"]["passed"] is True
    assert proposed["suite"]["passed"] is False
    assert [f for f in proposed["suite"]["failed"] if "expect_column_values_to_be_in_set" in f and "astronaut" in f]
    assert proposed["features"]["employment_type"]["max"] == "unemployed"  # strings: min/max too
    assert proposed["features"]["age_years"]["null_rate"] == current["features"]["age_years"]["null_rate"]
    assert 16 <= proposed["features"]["age_years"]["min"] <= proposed["features"]["age_years"]["max"] <= 120

    broken = views["user_txn_30d"]
    assert broken["proposed"]["error"] and "no_such_column" in broken["proposed"]["error"]
    assert broken["current"]["error"] is None and broken["current"]["suite"]["passed"] is True

    markdown = (out / "plan.md").read_text()
    assert markdown.startswith("<!-- featurekit-plan -->")
    assert "| | current | proposed |" in markdown and "❌ 1 of" in markdown and "✅ passed" in markdown
    assert "⚠️ preview failed" in markdown
    assert "data preview (local warehouse" in result.stdout and "user_profile (changed)" in result.stdout  # text


def test_row_limit_bounds_the_preview(project: BatchProject) -> None:
    edit(project, "user_profile", "WHERE u.signup_at", "WHERE u.user_id > 0 AND u.signup_at")
    config = project.root / "config" / "local.yaml"
    config.write_text(config.read_text().replace("max_rows: 100000", "max_rows: 10"))
    result = CliRunner().invoke(
        app, ["plan", "--preview", "--preview-base", str(REPO_ROOT / "feature_repo"), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    (view,) = json.loads(result.stdout)["preview"]["views"]
    assert view["proposed"]["rows"] == 10 and view["proposed"]["truncated"] is True
