"""The commands CI runs, end to end against moto S3 and Redis: plan formats and exit codes, the prod guard,
apply and re-apply, the breaking gate with ``--allow-breaking``, and a PR project applied then torn down."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from featurekit.cli.main import app
from featurekit.cli.repo import BLOCKED_EXIT_CODE
from featurekit.config import load_settings
from featurekit.repo.apply import ProtectedEnvironmentError, guard_protected
from featurekit.repo.plan import PLAN_COMMENT_MARKER
from support.cicd import IN_MAIN_CI, edit, registry_etag


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, list(args), env=env)


def test_plan_apply_gate_and_pr_projects_through_the_cli(project_copy: Path, s3, tmp_path: Path) -> None:
    prod = load_settings("prod", environ={"FEATUREKIT_REDIS_PASSWORD": ""})

    markdown = tmp_path / "out" / "plan.md"
    result = run("plan", "--env", "prod", "--format", "markdown", "--output", str(markdown))
    assert result.exit_code == 0, result.output
    assert markdown.read_text().startswith(PLAN_COMMENT_MARKER)
    assert "17 to add, 0 to change, 0 to remove" in result.output

    refused = run("apply", "--env", "prod")
    assert refused.exit_code == 1
    assert "environment 'prod' is protected" in refused.output and "--force" in refused.output
    in_pr_ci = run("apply", "--env", "prod", "--ci-ref", "refs/pull/9/merge")
    assert in_pr_ci.exit_code == 1 and "this is CI on refs/pull/9/merge" in in_pr_ci.output
    assert registry_etag(s3, prod) is None, "a refused apply writes nothing"

    applied = run("apply", "--env", "prod", "--ci-ref", IN_MAIN_CI)
    assert applied.exit_code == 0, applied.output
    assert "applied project cash_advance" in applied.output
    etag = registry_etag(s3, prod)
    again = run("apply", "--env", "prod", "--ci-ref", IN_MAIN_CI)
    assert again.exit_code == 0 and "no changes" in again.output
    assert registry_etag(s3, prod) == etag

    edit(
        project_copy / "feature_repo",
        "feature_views/transactions.py",
        'Field(name="txn_count_30d", dtype=Int64',
        'Field(name="txn_count_30d", dtype=Float64',
    )
    blocked = run("plan", "--env", "prod", "--format", "json")
    assert blocked.exit_code == BLOCKED_EXIT_CODE
    document = json.loads(blocked.stdout)
    assert document["blocked"] and [b["rule"] for b in document["breaking"]] == ["dtype-changed"]
    files = run(
        "plan", "--env", "prod", "--markdown-file", str(tmp_path / "c.md"), "--json-file", str(tmp_path / "c.json")
    )
    assert files.exit_code == BLOCKED_EXIT_CODE
    assert "❌ 1 breaking change(s) block this PR" in (tmp_path / "c.md").read_text()
    assert json.loads((tmp_path / "c.json").read_text())["breaking"][0]["name"] == "cash_advance_v1"
    allowed = run("plan", "--env", "prod", "--format", "json", "--allow-breaking")
    assert allowed.exit_code == 0 and json.loads(allowed.stdout)["allow_breaking"]
    assert run("apply", "--env", "prod", "--ci-ref", IN_MAIN_CI).exit_code == 1
    assert registry_etag(s3, prod) == etag

    pr = run("apply", "--env", "dev", "--pr", "5", "--allow-breaking")
    assert pr.exit_code == 0 and "applied project cash_advance_pr5" in pr.output
    assert registry_etag(s3, prod) == etag, "dev and prod are separate registries"
    assert run("apply", "--env", "prod", "--pr", "5", "--force").exit_code == 1
    down = run("teardown", "--env", "dev", "--pr", "5")
    assert down.exit_code == 0 and "torn down project cash_advance_pr5" in down.output
    assert "nothing to tear down" in run("teardown", "--env", "dev", "--pr", "5").output


@pytest.mark.parametrize(
    ("ci_ref", "force", "allowed"),
    [
        (None, False, False),  # outside CI
        ("refs/heads/feature-x", False, False),
        ("refs/pull/4/merge", False, False),
        ("refs/heads/main-old", False, False),  # the ref must be main exactly
        (IN_MAIN_CI, False, True),
        (None, True, True),
    ],
)
def test_protected_environment_guard(ci_ref, force, allowed) -> None:
    prod = load_settings("prod", environ={"FEATUREKIT_REDIS_PASSWORD": ""})
    dev = load_settings("dev", environ={"FEATUREKIT_REDIS_PASSWORD": ""})
    assert prod.registry.protected and not dev.registry.protected
    guard_protected(dev, "apply", force=False, ci_ref=ci_ref)  # dev is never guarded
    if allowed:
        guard_protected(prod, "apply", force=force, ci_ref=ci_ref)
    else:
        with pytest.raises(ProtectedEnvironmentError, match="runs only from refs/heads/main in CI"):
            guard_protected(prod, "apply", force=force, ci_ref=ci_ref)
