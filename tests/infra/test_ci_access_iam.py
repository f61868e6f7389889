"""The CI roles of ``modules/ci_access``, enforced: their policies, read from the Terraform code, are loaded into moto's
server with IAM enforcement on (``INITIAL_NO_AUTH_ACTION_COUNT``), each role is assumed, and ``featurekit plan`` /
``apply`` run under its credentials against the S3 registries:

* the prod plan role (pull requests) reads the prod registry and is refused a write;
* the dev role (pull requests) applies to the dev registry and is refused the prod registry;
* the prod role (``prod`` environment on main) applies to prod.

Trust: moto issues credentials for ``AssumeRoleWithWebIdentity`` without evaluating trust policies, so the trust
documents (also from the Terraform code) are evaluated here against real GitHub token subjects before a role is
assumed; a role is only assumed with a token its trust admits.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.auth import SigV4Auth
from botocore.credentials import Credentials
from typer.testing import CliRunner

from featurekit.services.ports import free_port
from support.iam_policies import policy_document, trust_allows
from support.tfcode import REPO_ROOT, TerraformCode

REPO = "acme/feature-platform"
ACCOUNT = "123456789012"
REGION = "us-east-1"
PROVIDER_URL = "token.actions.githubusercontent.com"
# GitHub OIDC subjects with the repository's subject template (repo, context, ref), see modules/ci_access.
PULL_REQUEST = {"aud": "sts.amazonaws.com", "sub": f"repo:{REPO}:pull_request:ref:refs/pull/42/merge"}
PROD_ON_MAIN = {"aud": "sts.amazonaws.com", "sub": f"repo:{REPO}:environment:prod:ref:refs/heads/main"}
PROD_ON_BRANCH = {"aud": "sts.amazonaws.com", "sub": f"repo:{REPO}:environment:prod:ref:refs/heads/feature"}
PUSH_TO_MAIN = {"aud": "sts.amazonaws.com", "sub": f"repo:{REPO}:ref:refs/heads/main"}
FORK_PULL_REQUEST = {"aud": "sts.amazonaws.com", "sub": "repo:evil/feature-platform:pull_request:ref:refs/pull/1/merge"}
WRONG_AUDIENCE = {"aud": "https://github.com/acme", "sub": PULL_REQUEST["sub"]}
ALL_TOKENS = {
    "pull_request": PULL_REQUEST,
    "prod_on_main": PROD_ON_MAIN,
    "prod_on_branch": PROD_ON_BRANCH,
    "push_to_main": PUSH_TO_MAIN,
    "fork_pull_request": FORK_PULL_REQUEST,
    "wrong_audience": WRONG_AUDIENCE,
}


def env_arns(env: str, key_arn: str, provider_arn: str) -> dict[str, Any]:
    """Values for ci_access's references, as the root wires them for ``env`` (names from the kit's config files)."""
    registry = yaml.safe_load((REPO_ROOT / "config" / f"{env}.yaml").read_text())["registry"]["path"]
    bucket, key = registry.removeprefix("s3://").split("/", 1)
    return {
        "var.name_prefix": "featurekit",
        "var.environment": env,
        "var.github_repository": REPO,
        "var.kms_key_arn": key_arn,
        "var.registry_bucket_arn": f"arn:aws:s3:::{bucket}",
        "var.registry_object_arn": f"arn:aws:s3:::{bucket}/{key}",
        "var.offline_bucket_arn": f"arn:aws:s3:::featurekit-{env}-offline",
        "var.athena_workgroup_arn": f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/featurekit-{env}",
        "var.glue_database_name": f"featurekit_{env}",
        "var.dag_bucket_arn": f"arn:aws:s3:::featurekit-{env}-mwaa",
        "local.oidc_provider_arn": provider_arn,
        "data.aws_caller_identity.current.account_id": ACCOUNT,
        "data.aws_partition.current.partition": "aws",
        "data.aws_region.current.name": REGION,
    }


@pytest.fixture(scope="module")
def iam_moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """moto's server in a child process with IAM enforcement after three bootstrap calls (create the admin user,
    give it a policy, create its key); everything after that is authenticated and authorized."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3"}
    with log.open("w") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], env=env, stdout=out, stderr=out
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        anonymous = {"aws_access_key_id": "bootstrap", "aws_secret_access_key": "bootstrap"}
        iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION, **anonymous)
        iam.create_user(UserName="platform-admin")
        admin_policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        iam.put_user_policy(UserName="platform-admin", PolicyName="admin", PolicyDocument=json.dumps(admin_policy))
        key = iam.create_access_key(UserName="platform-admin")["AccessKey"]
        admin = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
        yield {"endpoint": endpoint, "admin": admin}
    finally:
        child.terminate()
        child.wait(timeout=30)


def client(moto: dict[str, Any], service: str, credentials: dict[str, str] | None = None) -> Any:
    return boto3.client(service, endpoint_url=moto["endpoint"], region_name=REGION, **(credentials or moto["admin"]))


@pytest.fixture(scope="module")
def roles(iam_moto: dict[str, Any], tf: TerraformCode) -> dict[str, dict[str, Any]]:
    """The three CI roles created from the Terraform documents: name -> {arn, trust}."""
    ci = tf.modules["ci_access"]
    iam, kms, s3 = client(iam_moto, "iam"), client(iam_moto, "kms"), client(iam_moto, "s3")
    provider = iam.create_open_id_connect_provider(
        Url=f"https://{PROVIDER_URL}", ClientIDList=["sts.amazonaws.com"], ThumbprintList=["0" * 40]
    )["OpenIDConnectProviderArn"]
    created: dict[str, dict[str, Any]] = {}
    for env in ("dev", "prod"):
        values = env_arns(env, kms.create_key()["KeyMetadata"]["Arn"], provider)
        bucket = values["var.registry_bucket_arn"].removeprefix("arn:aws:s3:::")
        s3.create_bucket(Bucket=bucket)
        trust_doc = "github_prod_main" if env == "prod" else "github_pull_request"
        definitions = [(f"featurekit-{env}-github-ci", trust_doc, "ci")]
        if env == "prod":
            definitions.append(("featurekit-prod-github-pr-plan", "github_pull_request", "plan"))
        for role_name, trust_name, policy_name in definitions:
            trust = policy_document(ci, trust_name, values)
            arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
            policy = policy_document(ci, policy_name, values)
            iam.put_role_policy(RoleName=role_name, PolicyName=policy_name, PolicyDocument=json.dumps(policy))
            created[role_name] = {"arn": arn, "trust": trust, "provider": provider, "policy": policy}
    return created


def assume(moto: dict[str, Any], role: dict[str, Any], claims: dict[str, str]) -> dict[str, str]:
    """Credentials of ``role`` for a GitHub token with ``claims``; refused unless the role's trust admits it.

    AssumeRoleWithWebIdentity is unsigned on AWS; moto's enforcing server needs every request signed, so the call is
    signed with the admin key (moto then returns the role's credentials, which it authorizes by the role's policy)."""
    if not trust_allows(role["trust"], role["provider"], claims):
        raise PermissionError(f"trust of {role['arn']} refuses sub={claims['sub']} aud={claims['aud']}")
    sts = client(moto, "sts")
    admin = Credentials(moto["admin"]["aws_access_key_id"], moto["admin"]["aws_secret_access_key"])
    sts.meta.events.register(
        "request-created.sts.AssumeRoleWithWebIdentity",
        lambda request, **_: SigV4Auth(admin, "sts", REGION).add_auth(request),
    )
    reply = sts.assume_role_with_web_identity(
        RoleArn=role["arn"], RoleSessionName="featurekit-ci", WebIdentityToken="github-oidc-token." + claims["sub"]
    )["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": reply["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": reply["SecretAccessKey"],
        "AWS_SESSION_TOKEN": reply["SessionToken"],
    }


@pytest.fixture
def project(iam_moto: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project root with the real config files and feature repo; AWS through the enforcing moto server."""
    root = tmp_path / "project"
    for name in ("config", "feature_repo"):
        shutil.copytree(REPO_ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("FEATUREKIT_ROOT", str(root))
    monkeypatch.setenv("FEATUREKIT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FEATUREKIT_REDIS_PASSWORD", "")  # as in CI: never used, CI does not connect to Redis
    monkeypatch.setenv("AWS_ENDPOINT_URL", iam_moto["endpoint"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for name in ("FEATUREKIT_ENV", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    return root


def featurekit(monkeypatch: pytest.MonkeyPatch, credentials: dict[str, str], *args: str, main_ci: bool = False):
    from featurekit.cli.main import app

    for key, value in credentials.items():
        monkeypatch.setenv(key, value)
    # boto3's default session caches the credentials it resolved first; a CI job is a new process every time.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    # CI on main passes its ref, as the workflow does (`--ci-ref "$GITHUB_REF"`).
    return CliRunner().invoke(app, [*args, *(["--ci-ref", "refs/heads/main"] if main_ci else [])])


def etag(moto: dict[str, Any], env: str) -> str | None:
    bucket = f"featurekit-{env}-registry"
    try:
        return client(moto, "s3").head_object(Bucket=bucket, Key="registry.pb")["ETag"]
    except client(moto, "s3").exceptions.ClientError:
        return None


def add_feature(root: Path) -> None:
    path = root / "feature_repo" / "feature_views" / "transactions.py"
    old = '        Field(name="max_debit_24h", dtype=Float64, description="Largest single debit over 24 hours."),\n'
    text = path.read_text()
    assert old in text
    new = old + '        Field(name="max_credit_24h", dtype=Float64, description="Largest credit over 24 hours."),\n'
    path.write_text(text.replace(old, new))


def test_trust_admits_exactly_the_intended_github_tokens(roles: dict[str, dict[str, Any]]) -> None:
    admitted = {
        name: sorted(token for token, claims in ALL_TOKENS.items() if trust_allows(r["trust"], r["provider"], claims))
        for name, r in roles.items()
    }
    assert admitted == {
        "featurekit-dev-github-ci": ["pull_request"],
        "featurekit-prod-github-ci": ["prod_on_main"],
        "featurekit-prod-github-pr-plan": ["pull_request"],
    }
    plan_policy = roles["featurekit-prod-github-pr-plan"]["policy"]
    assert sorted(a for s in plan_policy["Statement"] for a in s["Action"]) == ["kms:Decrypt", "s3:GetObject"]


def test_each_role_can_do_exactly_its_job(
    iam_moto: dict[str, Any], roles: dict[str, dict[str, Any]], project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prod_role = roles["featurekit-prod-github-ci"]
    plan_role = roles["featurekit-prod-github-pr-plan"]
    dev_role = roles["featurekit-dev-github-ci"]
    with pytest.raises(PermissionError):
        assume(iam_moto, prod_role, PULL_REQUEST)  # a pull request never gets the prod apply role
    with pytest.raises(PermissionError):
        assume(iam_moto, prod_role, PROD_ON_BRANCH)

    # The first merge to main creates the prod registry, with the prod role.
    prod = assume(iam_moto, prod_role, PROD_ON_MAIN)
    first = featurekit(monkeypatch, prod, "apply", "--env", "prod", main_ci=True)
    assert first.exit_code == 0, first.output
    assert "applied project cash_advance" in first.output
    applied = etag(iam_moto, "prod")
    assert applied is not None

    # A pull request adds a feature; its plan against prod runs with the read-only plan role.
    add_feature(project)
    plan = assume(iam_moto, plan_role, PULL_REQUEST)
    planned = featurekit(monkeypatch, plan, "plan", "--env", "prod", "--format", "json")
    assert planned.exit_code == 0, planned.output
    changed = {o["name"] for o in json.loads(planned.stdout)["objects"] if o["action"] == "change"}
    assert "user_txn_24h" in changed
    refused = featurekit(monkeypatch, plan, "apply", "--env", "prod", main_ci=True)
    assert refused.exit_code == 1 and "AccessDenied" in refused.output, refused.output
    assert etag(iam_moto, "prod") == applied

    # The dev role applies the PR's own project in dev, and cannot read or write prod.
    dev = assume(iam_moto, dev_role, PULL_REQUEST)
    pr_apply = featurekit(monkeypatch, dev, "apply", "--env", "dev", "--pr", "42")
    assert pr_apply.exit_code == 0 and "applied project cash_advance_pr42" in pr_apply.output, pr_apply.output
    denied = featurekit(monkeypatch, dev, "plan", "--env", "prod")
    assert denied.exit_code == 1 and "AccessDenied" in denied.output, denied.output
    denied = featurekit(monkeypatch, dev, "apply", "--env", "prod", main_ci=True)
    assert denied.exit_code == 1 and "AccessDenied" in denied.output
    assert etag(iam_moto, "prod") == applied

    # Merged: the prod role applies the change.
    merged = featurekit(monkeypatch, prod, "apply", "--env", "prod", main_ci=True)
    assert merged.exit_code == 0 and "applied project cash_advance" in merged.output, merged.output
    assert etag(iam_moto, "prod") != applied
