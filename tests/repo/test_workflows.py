"""The GitHub Actions workflows: who may apply where, with which permissions, and whether they pass the security
audit and the workflow schema."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from featurekit.config.loader import project_root

WORKFLOWS = project_root() / ".github" / "workflows"
REUSABLE = "./.github/workflows/featurekit-env.yml"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def all_workflows() -> dict[str, dict[str, Any]]:
    return {path.name: load(path.name) for path in sorted(WORKFLOWS.glob("*.yml"))}


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_every_action_is_pinned_to_a_full_commit_sha() -> None:
    uses = [(name, step["uses"]) for name, wf in all_workflows().items() for step in steps(wf) if "uses" in step]
    assert uses, "no actions found"
    unpinned = [(name, u) for name, u in uses if not PINNED.match(u)]
    assert unpinned == []
    for name, wf in all_workflows().items():
        for job in wf["jobs"].values():
            if "uses" in job:
                assert job["uses"] == REUSABLE, f"{name}: reusable workflows must be local, got {job['uses']}"
    text = "\n".join(p.read_text() for p in WORKFLOWS.glob("*.yml"))
    for action in re.findall(r"uses: ([^\s#]+@[0-9a-f]{40}) #", text):
        assert re.search(re.escape(action) + r" # v\d+\.\d+\.\d+", text), f"{action}: note its version in a comment"


def test_permissions_are_minimal_and_oidc_only_where_aws_is_used() -> None:
    for name, wf in all_workflows().items():
        top = wf.get("permissions")
        assert top in ({}, {"contents": "read"}), f"{name}: top-level permissions must be empty or contents: read"
        for job_name, job in wf["jobs"].items():
            permissions = job.get("permissions", {})
            assert "write-all" not in str(permissions)
            writes = {k for k, v in permissions.items() if v == "write"}
            assert writes <= {"id-token", "pull-requests"}, f"{name}:{job_name} writes {writes}"
            uses_aws = job.get("uses") == REUSABLE or any(
                s.get("uses", "").startswith("aws-actions/configure-aws-credentials@") for s in job.get("steps", [])
            )
            assert ("id-token" in writes) == uses_aws, f"{name}:{job_name}: id-token: write only for AWS jobs"
            if "id-token" in writes:
                assert "pull-requests" not in permissions, f"{name}:{job_name}: cloud credentials and PR write apart"
    no_keys = "\n".join(p.read_text() for p in WORKFLOWS.glob("*.yml"))
    assert "aws-access-key-id" not in no_keys and "AWS_SECRET_ACCESS_KEY" not in no_keys


def test_prod_apply_runs_only_on_main_in_the_prod_environment_one_at_a_time() -> None:
    deploy = load("feature-repo-deploy.yml")
    assert set(deploy["on"]) == {"push"} and deploy["on"]["push"]["branches"] == ["main"]
    assert deploy["concurrency"] == {"group": "featurekit-prod-apply", "cancel-in-progress": False}
    apply = deploy["jobs"]["apply-prod"]
    assert apply["uses"] == REUSABLE
    assert apply["with"]["env"] == "prod" and apply["with"]["mode"] == "apply"
    assert apply["with"]["github-environment"] == "prod"
    assert apply["with"]["role-arn"] == "${{ vars.AWS_PROD_ROLE_ARN }}"

    reusable = load("featurekit-env.yml")
    assert set(reusable["on"]) == {"workflow_call"}
    job = reusable["jobs"]["featurekit"]
    assert job["environment"] == "${{ inputs.github-environment }}"
    assert job["env"]["FEATUREKIT_ENV"] == "${{ inputs.env }}"
    role_steps = [s for s in job["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")]
    assert [s["with"]["role-to-assume"] for s in role_steps] == ["${{ inputs.role-arn }}"]

    # The prod role and the prod GitHub environment appear nowhere else.
    for name, wf in all_workflows().items():
        for job_name, other in wf["jobs"].items():
            with_ = other.get("with", {})
            if (name, job_name) in {
                ("feature-repo-deploy.yml", "apply-prod"),
                ("feature-repo-deploy.yml", "deploy-prod"),
            }:
                continue
            assert "AWS_PROD_ROLE_ARN" not in str(other), f"{name}:{job_name} uses the prod role"
            assert with_.get("github-environment", "") == "", f"{name}:{job_name} runs in a GitHub environment"
            if with_.get("env") == "prod":
                assert with_.get("mode") == "plan", f"{name}:{job_name} changes prod"


def test_pull_requests_plan_prod_with_the_label_gate_comment_once_and_apply_their_dev_project() -> None:
    pr = load("feature-repo-pr.yml")
    assert "feature_repo/**" in pr["on"]["pull_request"]["paths"]
    assert {"labeled", "unlabeled", "synchronize"} <= set(pr["on"]["pull_request"]["types"])
    assert pr["concurrency"]["group"] == "feature-repo-pr-${{ github.event.pull_request.number }}"
    plan, comment, apply = pr["jobs"]["plan-prod"], pr["jobs"]["comment"], pr["jobs"]["apply-dev"]
    assert plan["with"]["env"] == "prod" and plan["with"]["mode"] == "plan"
    assert (
        plan["with"]["allow-breaking"] == "${{ contains(github.event.pull_request.labels.*.name, 'allow-breaking') }}"
    )
    # The prod plan runs with the read-only prod plan role; PR code that applies runs with the dev role only.
    assert plan["with"]["role-arn"] == "${{ vars.AWS_PROD_PLAN_ROLE_ARN }}"
    assert apply["with"]["role-arn"] == "${{ vars.AWS_DEV_ROLE_ARN }}"
    assert apply["needs"] == "plan-prod" and apply["with"]["env"] == "dev" and apply["with"]["mode"] == "apply"
    assert apply["with"]["pr"] == "${{ github.event.pull_request.number }}"
    # The sticky comment: found by the plan's marker and PATCHed, created only when absent; no PR code runs here.
    script = "\n".join(s.get("run", "") for s in comment["steps"])
    assert "<!-- featurekit-plan -->" in script and "--method PATCH" in script and "--method POST" in script
    assert not any(s.get("uses", "").startswith("actions/checkout@") for s in comment["steps"])

    # The comment carries the data preview: read from dev's warehouse, the base branch (HEAD^1 of the merge commit,
    # hence a checkout two commits deep) as the current definitions.
    assert plan["with"]["preview-env"] == "dev"
    reusable = load("featurekit-env.yml")
    job = reusable["jobs"]["featurekit"]
    assert job["env"]["FK_PREVIEW_ENV"] == "${{ inputs.preview-env }}"
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 2
    plan_step = next(s for s in job["steps"] if s.get("id") == "plan")["run"]
    assert '--preview --preview-env "$FK_PREVIEW_ENV" --preview-base HEAD^1' in plan_step

    closed = load("feature-repo-pr-closed.yml")
    assert closed["on"]["pull_request"]["types"] == ["closed"]
    teardown = closed["jobs"]["teardown-dev"]["with"]
    assert (teardown["env"], teardown["mode"]) == ("dev", "teardown")
    assert teardown["pr"] == "${{ github.event.pull_request.number }}"


def test_ci_runs_the_developer_make_targets_and_checks_the_workflows() -> None:
    ci = load("ci.yml")
    assert set(ci["on"]) == {"pull_request", "push"}
    runs = [s.get("run", "") for s in steps(ci)]
    assert "make lint" in runs and "make test" in runs
    assert any(r.startswith("uv run --frozen zizmor --offline --min-severity medium") for r in runs)
    assert any("check-jsonschema --builtin-schema vendor.github-workflows" in r for r in runs)
    # The feature-repo workflows call the same CLI a developer runs, always with an explicit environment.
    reusable = "\n".join(s.get("run", "") for s in steps(load("featurekit-env.yml")))
    for command in ("featurekit check", "featurekit plan", "featurekit apply", "featurekit teardown"):
        assert f"uv run --frozen {command}" in reusable


def test_no_ci_job_is_given_the_online_store_password() -> None:
    """CI writes registries only: Redis is private to the VPC, the maintenance DAG deletes rows there."""
    for name, wf in all_workflows().items():
        for job_name, job in wf["jobs"].items():
            assert "secrets" not in job, f"{name}:{job_name} passes secrets to a reusable workflow"
    reusable = load("featurekit-env.yml")
    assert "secrets" not in reusable["on"]["workflow_call"]
    assert reusable["jobs"]["featurekit"]["env"]["FEATUREKIT_REDIS_PASSWORD"] == ""
    text = "\n".join(p.read_text() for p in WORKFLOWS.glob("*.yml"))
    assert "REDIS_PASSWORD }}" not in text and "redis-cli" not in text


def _tool(name: str) -> str:
    path = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(path).exists():
        pytest.fail(f"{name} is not installed in the environment")
    return path


def test_zizmor_finds_nothing_at_medium_or_above() -> None:
    result = subprocess.run(
        [_tool("zizmor"), "--offline", "--min-severity", "medium", "--format", "plain", str(WORKFLOWS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


def test_workflows_validate_against_the_github_workflow_schema() -> None:
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    result = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *files],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_prod_applies_exactly_the_reviewed_plan() -> None:
    """The PR plan uploads its fingerprint; the merge apply checks it (no re-plan, no retries) and shows a fresh plan
    in the job summary when refused."""
    job = load("featurekit-env.yml")["jobs"]["featurekit"]
    by_name = {s.get("name"): s for s in job["steps"]}
    assert "--fingerprint-file plan/fingerprint.json" in by_name["featurekit plan"]["run"]
    apply = by_name["featurekit apply"]["run"]
    assert "--expect-fingerprint reviewed/fingerprint.json" in apply and "--retries" not in apply
    assert "fresh-plan.md" in apply and "GITHUB_STEP_SUMMARY" in apply
    assert 'elif [ -n "$FK_GITHUB_ENVIRONMENT" ]' in apply, "a protected environment needs a reviewed plan"
    download = by_name["Download the reviewed plan"]["with"]
    assert download["name"] == "featurekit-plan" and download["run-id"] == "${{ inputs.reviewed-plan-run-id }}"
    assert load("feature-repo-pr.yml")["jobs"]["plan-prod"]["with"]["plan-artifact"] == "featurekit-plan"
    deploy = load("feature-repo-deploy.yml")["jobs"]
    assert deploy["apply-prod"]["with"]["reviewed-plan-run-id"] == "${{ needs.merged-pr.outputs.plan-run-id }}"
    assert "feature-repo-pr.yml/runs?head_sha=" in deploy["merged-pr"]["steps"][0]["run"]


def test_prod_deploy_runs_after_the_apply_in_the_prod_environment() -> None:
    deploy = load("feature-repo-deploy.yml")["jobs"]["deploy-prod"]
    assert deploy["needs"] == "apply-prod" and deploy["uses"] == REUSABLE
    assert (deploy["with"]["env"], deploy["with"]["mode"], deploy["with"]["github-environment"]) == (
        "prod",
        "deploy",
        "prod",
    )
    steps = {s.get("name"): s for s in load("featurekit-env.yml")["jobs"]["featurekit"]["steps"]}
    assert steps["featurekit deploy"]["if"] == "inputs.mode == 'deploy'"
    assert 'featurekit deploy --env "$FEATUREKIT_ENV"' in steps["featurekit deploy"]["run"]
    # Code changes reach prod through a reviewed PR plan too: both workflows watch the same paths.
    assert (
        load("feature-repo-pr.yml")["on"]["pull_request"]["paths"]
        == load("feature-repo-deploy.yml")["on"]["push"]["paths"]
    )
