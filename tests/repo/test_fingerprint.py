"""Apply exactly what was reviewed: the PR plan's fingerprint (repo content + registry version) is checked by the merge
apply, which refuses, writing nothing and leaving a fresh plan for the job summary, when either side moved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from featurekit.cli.main import app
from featurekit.config import load_settings
from featurekit.repo.fingerprint import FingerprintError, PlanFingerprint, repo_sha256
from support.cicd import IN_MAIN_CI, edit, registry_etag

NEW_FEATURE = (
    '        Field(name="max_debit_24h", dtype=Float64, description="Largest single debit over 24 hours."),\n',
    '        Field(name="max_debit_24h", dtype=Float64, description="Largest single debit over 24 hours."),\n'
    '        Field(name="max_credit_24h", dtype=Float64, description="Largest single credit over 24 hours."),\n',
)
TTL = ("ttl=timedelta(days=3)", "ttl=timedelta(days=4)")


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def test_merge_apply_refuses_a_plan_that_was_not_reviewed(project_copy: Path, s3, tmp_path: Path) -> None:
    prod = load_settings("prod", environ={"FEATUREKIT_REDIS_PASSWORD": ""})
    repo = project_copy / "feature_repo"
    assert run("apply", "--env", "prod", "--ci-ref", IN_MAIN_CI).exit_code == 0

    # The pull request adds a feature; its plan against prod records what it was computed from.
    edit(repo, "feature_views/transactions.py", *NEW_FEATURE)
    reviewed = tmp_path / "plan" / "fingerprint.json"
    assert run("plan", "--env", "prod", "--fingerprint-file", reviewed).exit_code == 0
    data = json.loads(reviewed.read_text())
    assert data["registry_version"] == registry_etag(s3, prod) and data["repo_sha256"] == repo_sha256(repo)
    assert (data["env"], data["project"], data["registry"]) == ("prod", "cash_advance", prod.registry.path)
    before = registry_etag(s3, prod)
    fresh = tmp_path / "summary" / "fresh-plan.md"

    # 1. The merge brings in a change the plan did not show (main moved on): refused, fresh plan written.
    edit(repo, "feature_views/profile.py", *TTL)
    refused = run(
        "apply", "--env", "prod", "--expect-fingerprint", reviewed, "--markdown-file", fresh, "--ci-ref", IN_MAIN_CI
    )
    assert refused.exit_code == 1
    assert "not the plan that was reviewed" in refused.output and "feature repo differs" in refused.output
    assert "user_profile" in fresh.read_text() and "max_credit_24h" in fresh.read_text()
    assert registry_etag(s3, prod) == before

    # 2. Another pull request's apply (the ttl change alone) landed in prod after the plan: the repo is the reviewed
    # one again, the registry is not.
    edit(repo, "feature_views/transactions.py", NEW_FEATURE[1], NEW_FEATURE[0])
    assert run("apply", "--env", "prod", "--ci-ref", IN_MAIN_CI).exit_code == 0
    edit(repo, "feature_views/profile.py", TTL[1], TTL[0])
    edit(repo, "feature_views/transactions.py", *NEW_FEATURE)
    assert repo_sha256(repo) == data["repo_sha256"]
    landed = registry_etag(s3, prod)
    refused = run(
        "apply", "--env", "prod", "--expect-fingerprint", reviewed, "--markdown-file", fresh, "--ci-ref", IN_MAIN_CI
    )
    assert refused.exit_code == 1
    assert "changed since the reviewed plan" in refused.output and "another apply landed" in refused.output
    assert registry_etag(s3, prod) == landed

    # 3. Re-planned against the current prod and reviewed again: applied exactly as shown.
    again = tmp_path / "plan2" / "fingerprint.json"
    assert run("plan", "--env", "prod", "--fingerprint-file", again).exit_code == 0
    applied = run("apply", "--env", "prod", "--expect-fingerprint", again, "--ci-ref", IN_MAIN_CI)
    assert applied.exit_code == 0, applied.output
    assert "applied project cash_advance" in applied.output and "max_credit_24h" in applied.output


def test_fingerprint_files_are_checked_and_the_retry_replan_is_gone(project_copy: Path, tmp_path: Path) -> None:
    missing = run("apply", "--env", "prod", "--expect-fingerprint", tmp_path / "none.json", "--ci-ref", IN_MAIN_CI)
    assert missing.exit_code == 1 and "no reviewed plan fingerprint" in missing.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "other"}))
    with pytest.raises(FingerprintError, match="expected featurekit-plan-fingerprint/v1"):
        PlanFingerprint.from_file(bad)
    assert run("apply", "--env", "dev", "--retries", "3").exit_code == 2  # unknown option: no silent re-plan


def test_repo_hash_covers_every_definition_file_and_ignores_caches(tmp_path: Path) -> None:
    repo = tmp_path / "feature_repo"
    (repo / "feature_views" / "__pycache__").mkdir(parents=True)
    (repo / "feature_views" / "a.py").write_text("x = 1\n")
    (repo / "feature_views" / "a.sql").write_text("select 1\n")
    first = repo_sha256(repo)
    (repo / "feature_views" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    assert repo_sha256(repo) == first
    (repo / "feature_views" / "a.sql").write_text("select 2\n")
    assert repo_sha256(repo) != first
