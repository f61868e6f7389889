"""Properties of infra/terraform asserted from the code itself (parsed with checkov's bc-python-hcl2).

Providers cannot be downloaded here, so there is no `terraform validate`/`plan`; these tests read the HCL
and fail when a security or sizing property is removed: encryption, public access blocks, TLS-only
policies, data tiering on the prod warm tier, OIDC trust limited to this repository and branch/environment,
no wildcard actions on data buckets, and the featurekit_settings output contract.
"""

from __future__ import annotations

import ast
import json
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import hcl2
import pytest

from featurekit.config.terraform import REQUIRED_KEYS
from support.hclnorm import attr, block, blocks
from support.tfcode import ENVS, MODULES, PLATFORM, REPO_ROOT, TF_ROOT, TerraformCode, TfDir, tfvars

DATA_BUCKET_MODULES = ("registry", "offline_store", "streaming", "orchestration")
ALL_TF_FILES = sorted(TF_ROOT.rglob("*.tf"))


# --- helpers ---------------------------------------------------------------------------------------------------
def statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Statements of an aws_iam_policy_document, including `dynamic "statement"` contents."""
    found = list(blocks(doc, "statement"))
    for dyn in blocks(doc, "dynamic"):
        for label, body in dyn.items():
            if label == "statement":
                found.extend(blocks(body, "content"))
    return found


def effect(statement: dict[str, Any]) -> str:
    return attr(statement, "effect", "Allow")


def resources(statement: dict[str, Any]) -> list[str]:
    """Resource list of a statement; a `for` expression (one string) counts as one entry."""
    value = attr(statement, "resources", [])
    return [value] if isinstance(value, str) else list(value)


def conditions(statement: dict[str, Any]) -> dict[tuple[str, str], list[str]]:
    return {(attr(c, "test"), attr(c, "variable")): attr(c, "values") for c in blocks(statement, "condition")}


def all_policy_documents(tf: TerraformCode) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (dirname, name, doc)
        for dirname, d in tf.modules.items()
        for name, doc in d.data_of("aws_iam_policy_document").items()
    ]


def var_default(d: TfDir, name: str) -> Any:
    return attr(d.variables[name], "default")


def leaves(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(leaves(value, f"{path}."))
        else:
            out[path] = value
    return out


def refs_bucket(tf_dir: TfDir, resource: dict[str, Any], bucket_name: str) -> bool:
    return attr(resource, "bucket", None) == f"${{aws_s3_bucket.{bucket_name}.id}}"


# --- parsing and layout ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ALL_TF_FILES, ids=lambda p: str(p.relative_to(TF_ROOT)))
def test_every_file_parses(path: Path) -> None:
    assert isinstance(hcl2.loads(path.read_text()), dict)


def test_all_modules_and_one_root_with_a_tfvars_per_environment() -> None:
    assert sorted(p.name for p in (TF_ROOT / "modules").iterdir() if p.is_dir()) == sorted(MODULES)
    assert not (TF_ROOT / "envs").exists(), "one root (platform/) for every environment: no per-env copies"
    assert sorted(p.name for p in PLATFORM.glob("*.tfvars")) == sorted(f"{env}.tfvars" for env in ENVS)
    assert len(ALL_TF_FILES) >= 4 * len(MODULES) + 5


def test_environments_differ_only_in_their_tfvars_and_set_the_same_variables() -> None:
    """dev and prod set exactly the same variables (the sizes that differ), and each names its environment."""
    values = {env: tfvars(env) for env in ENVS}
    assert set(values["dev"]) == set(values["prod"])
    for env in ENVS:
        assert values[env]["environment"] == env


@pytest.mark.parametrize("module", MODULES)
def test_module_layout_typed_and_documented(tf: TerraformCode, module: str) -> None:
    path = TF_ROOT / "modules" / module
    for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
        assert (path / name).is_file(), f"{module}: missing {name}"
    d = tf.modules[module]
    readme = (path / "README.md").read_text()
    assert d.variables and d.outputs, module
    for name, var in d.variables.items():
        assert attr(var, "description", "").strip(), f"{module}: variable {name} has no description"
        assert attr(var, "type", None), f"{module}: variable {name} has no type"
        assert f"`{name}`" in readme, f"{module}: README does not list input {name}"
    for name, out in d.outputs.items():
        assert attr(out, "description", "").strip(), f"{module}: output {name} has no description"
        assert f"`{name}`" in readme, f"{module}: README does not list output {name}"


def test_provider_versions_pinned_with_upper_bound(tf: TerraformCode) -> None:
    for d in tf.all_dirs():
        (tf_block,) = [b for b in d.terraform if "required_version" in b]
        assert "<" in attr(tf_block, "required_version"), d.path
        providers = block(tf_block, "required_providers")
        assert "aws" in providers, d.path
        for name in providers:
            spec = attr(providers, name)
            assert spec["source"].startswith("hashicorp/"), (d.path, name)
            assert re.search(r">=\s*\d+\.\d+\.\d+,\s*<\s*\d+", spec["version"]), (d.path, name, spec["version"])


def test_no_static_credentials() -> None:
    forbidden = re.compile(r"\b(access_key|secret_key|shared_credentials_files?|profile)\s*=|AKIA[0-9A-Z]{16}")
    for path in ALL_TF_FILES:
        assert not forbidden.search(path.read_text()), f"{path}: static credentials or profile in code"


def test_envs_configure_provider_region_only(tf: TerraformCode) -> None:
    for env in tf.envs.values():
        (provider,) = env.providers
        aws = provider["aws"]
        assert attr(aws, "region") == "${var.region}"
        assert set(aws) <= {"region", "default_tags"}, sorted(aws)


def test_remote_state_backend_documented() -> None:
    backend = (PLATFORM / "backend.tf").read_text()
    assert re.search(r'backend\s+"s3"', backend)
    assert "use_lockfile" in backend and "-backend-config=backend.hcl" in backend
    for env in ENVS:
        example = hcl2.loads((PLATFORM / f"backend-{env}.hcl.example").read_text())
        values = {k: (v[0] if isinstance(v, list) else v) for k, v in example.items()}
        assert values["encrypt"] is True and values["use_lockfile"] is True, env
        assert env in str(values["key"]), f"{env}: state key must be per environment"


# --- S3: encryption, public access, TLS -------------------------------------------------------------------------
def _assert_bucket_baseline(d: TfDir, bucket: str, *, kms: bool) -> None:
    where = f"{d.path.name}: aws_s3_bucket.{bucket}"

    pabs = [r for r in d.resources_of("aws_s3_bucket_public_access_block").values() if refs_bucket(d, r, bucket)]
    assert len(pabs) == 1, f"{where}: no public access block"
    for flag in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"):
        assert attr(pabs[0], flag) is True, f"{where}: {flag} is not true"

    sses = [
        r
        for r in d.resources_of("aws_s3_bucket_server_side_encryption_configuration").values()
        if refs_bucket(d, r, bucket)
    ]
    assert len(sses) == 1, f"{where}: no default encryption"
    default = block(block(sses[0], "rule"), "apply_server_side_encryption_by_default")
    if kms:
        assert attr(default, "sse_algorithm") == "aws:kms", where
        assert attr(default, "kms_master_key_id") == "${var.kms_key_arn}", where
        assert attr(block(sses[0], "rule"), "bucket_key_enabled") is True, where
    else:
        assert attr(default, "sse_algorithm") in ("AES256", "aws:kms"), where

    versionings = [r for r in d.resources_of("aws_s3_bucket_versioning").values() if refs_bucket(d, r, bucket)]
    assert len(versionings) == 1 and attr(block(versionings[0], "versioning_configuration"), "status") == "Enabled"

    owners = [r for r in d.resources_of("aws_s3_bucket_ownership_controls").values() if refs_bucket(d, r, bucket)]
    assert len(owners) == 1 and attr(block(owners[0], "rule"), "object_ownership") == "BucketOwnerEnforced"

    policies = [r for r in d.resources_of("aws_s3_bucket_policy").values() if refs_bucket(d, r, bucket)]
    assert len(policies) == 1, f"{where}: no bucket policy"
    doc_name = re.fullmatch(r"\$\{data\.aws_iam_policy_document\.(\w+)\.json\}", attr(policies[0], "policy"))
    assert doc_name, f"{where}: bucket policy must come from an aws_iam_policy_document"
    doc = d.data_of("aws_iam_policy_document")[doc_name.group(1)]
    tls_denies = [
        s
        for s in statements(doc)
        if effect(s) == "Deny" and conditions(s).get(("Bool", "aws:SecureTransport")) == ["false"]
    ]
    assert len(tls_denies) == 1, f"{where}: no Deny on aws:SecureTransport = false"
    deny = tls_denies[0]
    assert attr(deny, "actions") == ["s3:*"]
    assert set(attr(deny, "resources")) == {
        f"${{aws_s3_bucket.{bucket}.arn}}",
        f"${{aws_s3_bucket.{bucket}.arn}}/*",
    }, f"{where}: TLS deny must cover the bucket and its objects"
    principal = block(deny, "principals")
    assert attr(principal, "type") == "*" and attr(principal, "identifiers") == ["*"]
    for statement in statements(doc):
        if effect(statement) == "Allow":
            for p in blocks(statement, "principals"):
                assert attr(p, "type") != "*" and "*" not in attr(p, "identifiers"), f"{where}: public Allow"


def test_shared_bucket_module_baseline(tf: TerraformCode) -> None:
    d = tf.modules["s3_bucket"]
    assert list(d.resources_of("aws_s3_bucket")) == ["this"]
    _assert_bucket_baseline(d, "this", kms=True)
    logging = d.resources_of("aws_s3_bucket_logging")["this"]
    assert attr(logging, "target_bucket") == "${var.access_log_bucket}"
    tls = d.data_of("aws_iam_policy_document")["tls_only"]
    assert any(conditions(s).get(("NumericLessThan", "s3:TlsVersion")) == ["1.2"] for s in statements(tls))


def test_every_bucket_in_every_module_has_the_baseline(tf: TerraformCode) -> None:
    seen = 0
    for name, d in tf.modules.items():
        for bucket in d.resources_of("aws_s3_bucket"):
            # The access-log bucket must use SSE-S3 (S3 server access logging cannot write to SSE-KMS).
            _assert_bucket_baseline(d, bucket, kms=name != "foundation")
            seen += 1
    assert seen == 2  # s3_bucket.this and foundation.access_logs: every other bucket goes through s3_bucket


@pytest.mark.parametrize("module", DATA_BUCKET_MODULES)
def test_data_buckets_use_the_shared_bucket_module(tf: TerraformCode, module: str) -> None:
    d = tf.modules[module]
    assert not d.resources_of("aws_s3_bucket"), f"{module} must create buckets through ../s3_bucket"
    assert attr(d.modules["bucket"], "source") == "../s3_bucket"
    assert attr(d.modules["bucket"], "kms_key_arn") == "${var.kms_key_arn}"
    assert attr(d.modules["bucket"], "access_log_bucket") == "${var.access_log_bucket}"


def test_kms_key_rotates(tf: TerraformCode) -> None:
    key = tf.modules["foundation"].resources_of("aws_kms_key")["this"]
    assert attr(key, "enable_key_rotation") is True


# --- IAM: no wildcard actions on data buckets --------------------------------------------------------------------
# The only service-wide action allowed anywhere: the KMS key policy's account-administration statement.
SERVICE_WIDE_ALLOWLIST = {("foundation", "kms", "AccountAdministration")}


def test_policy_documents_are_found(tf: TerraformCode) -> None:
    names = {(m, n) for m, n, _ in all_policy_documents(tf)}
    assert {("ci_access", "ci"), ("orchestration", "execution"), ("streaming", "job")} <= names


def test_no_wildcard_actions_in_allow_statements(tf: TerraformCode) -> None:
    for module, name, doc in all_policy_documents(tf):
        for statement in statements(doc):
            if effect(statement) != "Allow":
                continue
            sid = attr(statement, "sid", "")
            for action in attr(statement, "actions"):
                assert action != "*", f"{module}/{name}/{sid}: Allow *"
                if action.endswith(":*"):
                    assert (module, name, sid) in SERVICE_WIDE_ALLOWLIST, f"{module}/{name}/{sid}: {action}"
                if action.startswith("s3:"):
                    assert "*" not in action, f"{module}/{name}/{sid}: wildcard S3 action {action}"


# Resource "*" only where the action has no resource-level permissions (or in the KMS key policy, where "*"
# means the key itself).
RESOURCE_STAR_ALLOWLIST = {
    ("foundation", "kms", "AccountAdministration"),
    ("foundation", "kms", "CloudWatchLogs"),
    ("orchestration", "execution", "AccountPublicAccessBlock"),
    ("orchestration", "execution", "DescribeLogGroups"),
    ("orchestration", "execution", "PutMetrics"),
    ("feature_server", "execution", "EcrAuthorization"),  # ecr:GetAuthorizationToken
    ("ci_access", "deploy", "FeatureServerTaskDefinitions"),  # ecs:RegisterTaskDefinition, DescribeTaskDefinition
}


def test_resource_star_only_where_iam_has_no_resource_level_permissions(tf: TerraformCode) -> None:
    for module, name, doc in all_policy_documents(tf):
        for statement in statements(doc):
            if effect(statement) == "Allow" and "*" in resources(statement):
                sid = attr(statement, "sid", "")
                assert (module, name, sid) in RESOURCE_STAR_ALLOWLIST, f"{module}/{name}/{sid}: Resource *"


def _is_data_bucket_ref(resource: str) -> bool:
    return bool(
        re.search(r"module\.bucket\.bucket_arn|var\.\w*bucket_arn|var\.registry_object_arn|aws_s3_bucket\.", resource)
    )


def test_data_bucket_statements_name_exact_actions_and_scoped_resources(tf: TerraformCode) -> None:
    checked = 0
    for module, name, doc in all_policy_documents(tf):
        for statement in statements(doc):
            targets = resources(statement)
            if effect(statement) != "Allow" or not any(_is_data_bucket_ref(r) for r in targets):
                continue
            checked += 1
            sid = attr(statement, "sid", "")
            assert all("*" not in a for a in attr(statement, "actions")), f"{module}/{name}/{sid}"
            assert "*" not in targets, f"{module}/{name}/{sid}: Resource * next to bucket ARNs"
            for resource in targets:
                # Object access only under a named prefix (or a named object), never "<bucket>/*" of data.
                if resource.endswith("/*") and module not in ("s3_bucket", "foundation", "orchestration"):
                    assert re.search(r"/[a-z_${}.-]+/\*$", resource), f"{module}/{name}/{sid}: {resource}"
    assert checked >= 10


def test_iam_roles_have_scoped_trust(tf: TerraformCode) -> None:
    expected = {
        "streaming": ("job_trust", "emr-serverless.amazonaws.com"),
        "orchestration": ("trust", "airflow-env.amazonaws.com"),
    }
    for module, (doc_name, service) in expected.items():
        doc = tf.modules[module].data_of("aws_iam_policy_document")[doc_name]
        (statement,) = statements(doc)
        assert service in attr(block(statement, "principals"), "identifiers")
        assert ("StringEquals", "aws:SourceAccount") in conditions(statement), f"{module}: confused deputy"


# --- CI access (GitHub OIDC) --------------------------------------------------------------------------------------
def _trust(tf: TerraformCode, name: str) -> tuple[dict[str, Any], dict[tuple[str, str], list[str]]]:
    d = tf.modules["ci_access"]
    (statement,) = statements(d.data_of("aws_iam_policy_document")[name])
    resolved = {
        (test, d.resolve(variable)): [d.resolve(v) for v in values]
        for (test, variable), values in conditions(statement).items()
    }
    return statement, resolved


def test_oidc_provider_is_github_with_sts_audience(tf: TerraformCode) -> None:
    provider = tf.modules["ci_access"].resources_of("aws_iam_openid_connect_provider")["github"]
    assert tf.modules["ci_access"].resolve(attr(provider, "url")) == "https://token.actions.githubusercontent.com"
    assert attr(provider, "client_id_list") == ["sts.amazonaws.com"]


def test_prod_role_trusts_only_main_in_prod_environment_of_this_repository(tf: TerraformCode) -> None:
    statement, conds = _trust(tf, "github_prod_main")
    assert attr(statement, "actions") == ["sts:AssumeRoleWithWebIdentity"]
    assert conds[("StringEquals", "token.actions.githubusercontent.com:aud")] == ["sts.amazonaws.com"]
    assert conds[("StringEquals", "token.actions.githubusercontent.com:sub")] == [
        "repo:${var.github_repository}:environment:prod:ref:refs/heads/main"
    ]
    # Exact match only: no StringLike anywhere in the prod trust.
    assert all(test == "StringEquals" for test, _ in conds)


def test_dev_role_trusts_only_pull_requests_of_this_repository(tf: TerraformCode) -> None:
    statement, conds = _trust(tf, "github_pull_request")
    assert attr(statement, "actions") == ["sts:AssumeRoleWithWebIdentity"]
    assert conds[("StringEquals", "token.actions.githubusercontent.com:aud")] == ["sts.amazonaws.com"]
    subjects = conds[("StringLike", "token.actions.githubusercontent.com:sub")]
    assert subjects == ["repo:${var.github_repository}:pull_request:ref:refs/pull/*/merge"]
    # The only wildcard is the PR number: the repository part is the variable, verbatim.
    assert all(s.split(":")[1] == "${var.github_repository}" for s in subjects)


def test_role_selects_trust_by_environment(tf: TerraformCode) -> None:
    role = tf.modules["ci_access"].resources_of("aws_iam_role")["ci"]
    assert attr(role, "assume_role_policy") == (
        '${var.environment == "prod" ? data.aws_iam_policy_document.github_prod_main.json'
        " : data.aws_iam_policy_document.github_pull_request.json}"
    )


def test_github_repository_validation_rejects_wildcards(tf: TerraformCode) -> None:
    (validation,) = blocks(tf.modules["ci_access"].variables["github_repository"], "validation")
    match = re.search(r'regex\(\\?"(.+?)\\?",', attr(validation, "condition"))
    assert match, attr(validation, "condition")
    pattern = re.compile(match.group(1).replace("\\\\", "\\"))
    assert pattern.search("acme/feature-platform")
    for bad in ("*", "acme/*", "*/feature-platform", "acme/feature-platform:*", "acme", "acme/x/y"):
        assert not pattern.search(bad), bad


def _values_outside_descriptions(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [
            v
            for k, child in node.items()
            if k not in ("description", "error_message")
            for v in _values_outside_descriptions(child)
        ]
    if isinstance(node, list):
        return [v for child in node for v in _values_outside_descriptions(child)]
    return [str(node)]


def test_repository_slug_is_a_variable_not_hard_coded(tf: TerraformCode) -> None:
    for name, d in tf.modules.items():
        for tree in (d.resources, d.data, d.locals, d.modules, d.outputs, d.variables):
            for value in _values_outside_descriptions({str(k): v for k, v in tree.items()}):
                assert "acme/" not in value and "feature-platform" not in value, (name, value)
    for name, env in tf.envs.items():
        ci = env.modules["ci_access"]
        assert attr(ci, "github_repository") == "${var.github_repository}"
        assert attr(ci, "environment") == "${local.environment}"
        assert env.locals["environment"] == name
        assert "default" not in env.variables["github_repository"]


# --- offline store -------------------------------------------------------------------------------------------------
def test_athena_workgroup_enforces_location_encryption_and_cutoff(tf: TerraformCode) -> None:
    d = tf.modules["offline_store"]
    wg = d.resources_of("aws_athena_workgroup")["this"]
    config = block(wg, "configuration")
    assert attr(config, "enforce_workgroup_configuration") is True
    assert attr(config, "bytes_scanned_cutoff_per_query") == "${var.bytes_scanned_cutoff_per_query}"
    result = block(config, "result_configuration")
    assert d.resolve(attr(result, "output_location")).endswith("/athena-results/")
    encryption = block(result, "encryption_configuration")
    assert attr(encryption, "encryption_option") == "SSE_KMS"
    assert attr(encryption, "kms_key_arn") == "${var.kms_key_arn}"
    assert "default" not in d.variables["bytes_scanned_cutoff_per_query"], "each env must choose its cutoff"
    cutoffs = {
        name: attr(env.modules["offline_store"], "bytes_scanned_cutoff_per_query") for name, env in tf.envs.items()
    }
    assert 10 * 1024**2 <= cutoffs["dev"] < cutoffs["prod"] <= 10 * 1024**4, cutoffs


def test_glue_tables_use_partition_projection_on_the_kit_layout(tf: TerraformCode) -> None:
    d = tf.modules["offline_store"]
    table = d.resources_of("aws_glue_catalog_table")["feature_view"]
    assert attr(table, "for_each") == "${var.feature_views}"
    params = attr(table, "parameters")
    assert params["projection.enabled"] == "true"
    assert params["projection.ds.type"] == "date"
    template = d.resolve(params["storage.location.template"])
    assert template == "s3://${var.name_prefix}-${var.environment}-offline/offline/${each.key}/ds=$${ds}/"
    assert [attr(k, "name") for k in blocks(table, "partition_keys")] == ["ds"]
    storage = block(table, "storage_descriptor")
    assert "Parquet" in attr(storage, "input_format")
    assert attr(block(storage, "ser_de_info"), "serialization_library").endswith("ParquetHiveSerDe")
    assert d.resolve(d.locals["s3_root"]) == "s3://${var.name_prefix}-${var.environment}-offline/offline"


def test_offline_lifecycle_rules(tf: TerraformCode) -> None:
    rules = {r["id"]: r for r in attr(tf.modules["offline_store"].modules["bucket"], "lifecycle_rules")}
    assert rules["expire-athena-results"]["expiration_days"] == "${var.athena_results_retention_days}"
    assert "intelligent_tiering_after_days" in rules["offline-intelligent-tiering"]


ATHENA_TYPES = {
    "Int64": "bigint",
    "Int32": "int",
    "Float64": "double",
    "Float32": "float",
    "String": "string",
    "Bool": "boolean",
    "UnixTimestamp": "timestamp",
}


def _feature_repo_views() -> dict[str, dict[str, Any]]:
    """name -> {kind, schedule, fields [(name, Feast type)]} for every (Stream)FeatureView in feature_repo/."""
    views: dict[str, dict[str, Any]] = {}
    for path in sorted((REPO_ROOT / "feature_repo").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if func not in ("FeatureView", "StreamFeatureView"):
                continue
            kwargs = {k.arg: k.value for k in node.keywords}
            fields = []
            for field_call in kwargs["schema"].elts:  # type: ignore[attr-defined]
                fkw = {k.arg: k.value for k in field_call.keywords}
                fields.append((fkw["name"].value, fkw["dtype"].id))
            views[kwargs["name"].value] = {  # type: ignore[attr-defined]
                "kind": "stream" if func == "StreamFeatureView" else "batch",
                "schedule": next(  # the literal "schedule" entry (tags may also unpack kit tag helpers)
                    v.value
                    for k, v in zip(kwargs["tags"].keys, kwargs["tags"].values, strict=True)  # type: ignore[attr-defined]
                    if isinstance(k, ast.Constant) and k.value == "schedule"
                ),
                "fields": fields,
            }
    return views


def test_feature_view_catalog_matches_feature_repo() -> None:
    from featurekit.tags import BACKFILL_GRAIN

    catalog = json.loads((TF_ROOT / "shared" / "feature_views.json").read_text())["feature_views"]
    views = _feature_repo_views()
    expected_names = {"user_profile", "user_txn_30d", "user_txn_24h", "user_balance_live", "user_txn_1h"}
    assert set(catalog) == set(views) >= expected_names
    for name, view in views.items():
        # The kit's offline schema: join key, features, event_timestamp, created (src/featurekit/offline/schema.py).
        features = [(f, ATHENA_TYPES[t]) for f, t in view["fields"] if f != "user_id"]
        expected = [("user_id", "bigint"), *features, ("event_timestamp", "timestamp"), ("created", "timestamp")]
        assert [(c["name"], c["type"]) for c in catalog[name]["columns"]] == expected, name
        assert catalog[name]["source"] == view["kind"], name
        assert catalog[name]["partition_granularity"] == BACKFILL_GRAIN[view["schedule"]], name
    assert catalog["user_txn_24h"]["partition_granularity"] == "hourly"


def _java_to_strftime(pattern: str) -> str:
    for java, c in (("yyyy", "%Y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"), ("'T'", "T")):
        pattern = pattern.replace(java, c)
    return pattern


def test_partition_projection_formats_match_the_kit_layout(tf: TerraformCode) -> None:
    from datetime import UTC, datetime

    from featurekit.offline.layout import partition_value

    d = tf.modules["offline_store"]
    formats = d.locals["projection_format"]
    moment = datetime(2026, 3, 4, 13, tzinfo=UTC)
    assert set(formats) == {"daily", "hourly"}
    for grain, java in formats.items():
        assert moment.strftime(_java_to_strftime(java)) == partition_value(moment, grain), grain
    for env in tf.envs.values():
        assert "fv.partition_granularity" in str(env.locals["feature_views"])


# --- online store ---------------------------------------------------------------------------------------------------
def test_redis_encryption_auth_and_network(tf: TerraformCode) -> None:
    d = tf.modules["online_store"]
    rg = d.resources_of("aws_elasticache_replication_group")["tier"]
    assert attr(rg, "for_each") == "${var.tiers}"
    assert attr(rg, "at_rest_encryption_enabled") is True
    assert attr(rg, "kms_key_id") == "${var.kms_key_arn}"
    assert attr(rg, "transit_encryption_enabled") is True
    assert attr(rg, "transit_encryption_mode") == "required"
    assert attr(rg, "user_group_ids") == ["${aws_elasticache_user_group.this.user_group_id}"]
    assert attr(rg, "data_tiering_enabled") == "${each.value.data_tiering_enabled}"
    assert attr(rg, "security_group_ids") == ["${aws_security_group.redis.id}"]
    assert attr(rg, "subnet_group_name") == "${aws_elasticache_subnet_group.this.name}"
    assert "var.cluster_mode_enabled" in attr(rg, "cluster_mode")

    # ACL: the mandatory `default` user is switched off; the kit's user's password is in Secrets Manager.
    users = d.resources_of("aws_elasticache_user")
    assert attr(users["default"], "user_name") == "default"
    assert attr(users["default"], "access_string").startswith("off ")
    assert "-@dangerous" in var_default(d, "redis_access_string")
    secret = d.resources_of("aws_secretsmanager_secret")["redis"]
    assert attr(secret, "kms_key_id") == "${var.kms_key_arn}"
    version = d.resources_of("aws_secretsmanager_secret_version")["redis"]
    assert "random_password.app.result" in attr(version, "secret_string")

    # Ingress only from named security groups on the Redis port; no CIDR, no egress rules.
    rule = d.resources_of("aws_vpc_security_group_ingress_rule")["redis"]
    assert attr(rule, "for_each") == "${var.allowed_security_group_ids}"
    assert attr(rule, "referenced_security_group_id") == "${each.value}"
    assert not {"cidr_ipv4", "cidr_ipv6", "prefix_list_id"} & set(rule)
    assert d.resolve(attr(rule, "from_port")) == d.resolve(attr(rule, "to_port")) == "${local.port}"
    assert d.locals["port"] == 6379
    assert not d.resources_of("aws_vpc_security_group_egress_rule")
    assert not blocks(d.resources_of("aws_security_group")["redis"], "ingress")


def test_tier_validation_ties_data_tiering_to_r6gd(tf: TerraformCode) -> None:
    conditions_text = [
        attr(v, "condition") for v in blocks(tf.modules["online_store"].variables["tiers"], "validation")
    ]
    assert any("data_tiering_enabled" in c and "cache.r6gd." in c for c in conditions_text)
    assert any(re.search(r"""["']hot["']""", c) and re.search(r"""["']warm["']""", c) for c in conditions_text)


def test_prod_warm_tier_is_data_tiered_r6gd_and_replicated(tf: TerraformCode) -> None:
    prod = tf.envs["prod"]
    tiers = attr(prod.modules["online_store"], "tiers")
    assert tiers["warm"]["data_tiering_enabled"] is True
    assert tiers["warm"]["node_type"] == var_default(prod, "redis_warm_node_type")
    assert var_default(prod, "redis_warm_node_type").startswith("cache.r6gd.")
    (validation,) = blocks(prod.variables["redis_warm_node_type"], "validation")
    assert "cache.r6gd." in attr(validation, "condition")
    assert tiers["hot"]["data_tiering_enabled"] is False
    assert not var_default(prod, "redis_hot_node_type").startswith("cache.r6gd.")
    for name, tier in tiers.items():
        assert tier["replicas_per_node_group"] >= 1, f"prod {name} tier needs a replica (Multi-AZ failover)"


def test_dev_is_small_and_cheap(tf: TerraformCode) -> None:
    dev = tf.envs["dev"]
    tiers = attr(dev.modules["online_store"], "tiers")
    for name, tier in tiers.items():
        assert tier["node_type"].startswith("cache.t4g."), name
        assert tier["data_tiering_enabled"] is False, name
        assert tier.get("replicas_per_node_group", 0) == 0, name
    assert attr(dev.modules["orchestration"], "environment_class") == "mw1.micro"
    assert attr(dev.modules["streaming"], "msk_instance_type").startswith("kafka.t3.")


def test_only_the_services_that_need_redis_are_allowed(tf: TerraformCode) -> None:
    for env in tf.envs.values():
        allowed = attr(env.modules["online_store"], "allowed_security_group_ids")
        assert "module.streaming.spark_security_group_id" in allowed
        assert "module.orchestration.security_group_id" in allowed
        assert "var.feature_server_security_group_ids" in allowed
        assert "0.0.0.0" not in allowed


# --- streaming --------------------------------------------------------------------------------------------------------
def test_msk_encrypted_private_and_logged(tf: TerraformCode) -> None:
    d = tf.modules["streaming"]
    msk = d.resources_of("aws_msk_cluster")["this"]
    encryption = block(msk, "encryption_info")
    assert attr(encryption, "encryption_at_rest_kms_key_arn") == "${var.kms_key_arn}"
    transit = block(encryption, "encryption_in_transit")
    assert attr(transit, "client_broker") == "TLS" and attr(transit, "in_cluster") is True
    broker = block(msk, "broker_node_group_info")
    assert attr(block(block(broker, "connectivity_info"), "public_access"), "type") == "DISABLED"
    assert attr(block(block(block(msk, "logging_info"), "broker_logs"), "cloudwatch_logs"), "enabled") is True
    props = attr(d.resources_of("aws_msk_configuration")["this"], "server_properties")
    assert "auto.create.topics.enable=false" in props
    assert "unclean.leader.election.enable=false" in props


def test_streaming_runtime_topics_and_checkpoints(tf: TerraformCode) -> None:
    d = tf.modules["streaming"]
    app = d.resources_of("aws_emrserverless_application")["spark"]
    assert attr(app, "type") == "spark"
    assert attr(block(app, "network_configuration"), "security_group_ids") == ["${aws_security_group.spark.id}"]
    assert any("spark-sql-kafka" in p for p in var_default(d, "kafka_connector_packages"))
    assert var_default(d, "topics") == ["balance-events", "transactions"]
    topics = d.locals["topics"]
    assert topics.startswith("${concat(var.topics,") and ".dlq" in topics, topics
    assert d.resolve(d.locals["checkpoint_location"]) == (
        "s3://${var.name_prefix}-${var.environment}-checkpoints/checkpoints"
    )
    for env in tf.envs.values():
        assert attr(env.modules["streaming"], "stream_feature_views") == "${local.stream_feature_views}"


def test_kafka_topics_and_protocol_match_the_kit_settings(tf: TerraformCode) -> None:
    import yaml

    from featurekit.config.settings import KafkaSettings

    kit = KafkaSettings(bootstrap_servers="unused:9094")
    d = tf.modules["streaming"]
    # Topic names are declared by the feature repo's KafkaSources (kafka_source(..., topic="...")).
    declared = [
        kw.value.value
        for path in sorted((REPO_ROOT / "feature_repo").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("kafka_source", "KafkaSource")
        for kw in node.keywords
        if kw.arg == "topic" and isinstance(kw.value, ast.Constant)
    ]
    assert sorted(var_default(d, "topics")) == sorted(declared) and declared
    assert f'"${{t}}{kit.dlq_suffix}"' in d.locals["topics"]
    # Default MSK client auth is TLS without SASL (port 9094): what config/prod.yaml's SSL protocol speaks.
    assert var_default(d, "msk_client_authentication") == "tls"
    for env in ENVS:
        config = yaml.safe_load((REPO_ROOT / "config" / f"{env}.yaml").read_text())
        assert config["kafka"]["security_protocol"] == "SSL", env


# --- orchestration ----------------------------------------------------------------------------------------------
def _lock_versions() -> dict[str, str]:
    lock = tomllib.loads((REPO_ROOT / "uv.lock").read_text())
    return {p["name"]: p["version"] for p in lock["package"]}


def _requirements() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, extras) of shared/mwaa-requirements.txt; every line must be an exact pin."""
    pins: dict[str, tuple[str, list[str]]] = {}
    for line in (TF_ROOT / "shared" / "mwaa-requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[([a-z0-9,_-]+)\])?==([^\s;]+)", line)
        assert match, f"not an exact pin: {line!r}"
        extras = match.group(2).split(",") if match.group(2) else []
        pins[_normalize(match.group(1))] = (match.group(3), extras)
    return pins


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_mwaa_requirements_are_pinned_from_uv_lock() -> None:
    locked = _lock_versions()
    pins = _requirements()
    assert not any(name.startswith("apache-airflow") for name in pins), "Airflow comes from the MWAA image"
    assert not {"feast", "featurekit"} & set(pins), "the kit's dependencies run in its own task environment"
    for name, (version, _) in pins.items():
        assert locked.get(name) == version, f"{name}=={version} but uv.lock has {locked.get(name)}"


def _lock_closure(roots: dict[str, list[str]]) -> set[str]:
    """Distributions installed with ``roots`` (name -> extras) according to uv.lock."""
    packages = {p["name"]: p for p in tomllib.loads((REPO_ROOT / "uv.lock").read_text())["package"]}
    seen: set[str] = set()
    stack = [(name, extras) for name, extras in roots.items()]
    while stack:
        name, extras = stack.pop()
        if name not in packages:
            continue
        package = packages[name]
        deps = list(package.get("dependencies", []))
        for extra in extras:
            deps += package.get("optional-dependencies", {}).get(extra, [])
        if name in seen and not extras:
            continue
        seen.add(name)
        stack += [(d["name"], d.get("extra", [])) for d in deps]
    return seen


def _module_level(tree: ast.AST) -> list[ast.AST]:
    """The nodes that run when a module is imported: not function bodies, not ``if TYPE_CHECKING:`` blocks."""
    nodes: list[ast.AST] = []
    stack = list(ast.iter_child_nodes(tree))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        nodes.append(node)
        stack += list(ast.iter_child_nodes(node))
    return nodes


def _dag_third_party_modules() -> set[str]:
    """Top-level third-party modules imported when dags/*.py is parsed (module level, through featurekit modules);
    task bodies import the rest in the kit's own environment."""
    src = REPO_ROOT / "src"
    third: set[str] = set()
    seen: set[str] = set()
    stack = [str(p) for p in sorted((REPO_ROOT / "dags").glob("*.py"))]
    while stack:
        item = stack.pop()
        if item in seen:
            continue
        seen.add(item)
        if item.endswith(".py"):
            path = Path(item)
        else:
            base = src.joinpath(*item.split("."))
            path = base / "__init__.py" if (base / "__init__.py").exists() else base.with_suffix(".py")
            if not path.exists():
                continue
            parts = item.split(".")
            stack += [".".join(parts[:i]) for i in range(1, len(parts))]
        for node in _module_level(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            for name in names:
                top = name.split(".")[0]
                if top == "featurekit":
                    stack.append(name)
                elif top not in sys.stdlib_module_names:
                    third.add(top)
    return third


def test_mwaa_requirements_cover_what_the_dags_import() -> None:
    from importlib.metadata import packages_distributions

    modules = _dag_third_party_modules()
    assert "airflow" in modules and "feast" not in modules, modules
    distributions = packages_distributions()
    needed = {_normalize(d) for m in modules for d in distributions.get(m, [m])}
    provided = _lock_closure({"apache-airflow": []}) | _lock_closure(
        {name: extras for name, (_, extras) in _requirements().items()}
    )
    missing = sorted(needed - provided)
    assert not missing, f"the DAGs import {missing}, which neither MWAA's Airflow nor mwaa-requirements.txt provides"


def test_mwaa_environment(tf: TerraformCode) -> None:
    d = tf.modules["orchestration"]
    env = d.resources_of("aws_mwaa_environment")["this"]
    assert attr(env, "webserver_access_mode") == "PRIVATE_ONLY"
    assert attr(env, "kms_key") == "${var.kms_key_arn}"
    assert attr(env, "dag_s3_path") == "dags/"
    assert attr(env, "requirements_s3_object_version") == "${aws_s3_object.requirements.version_id}"
    logging = block(env, "logging_configuration")
    for kind in ("dag_processing_logs", "scheduler_logs", "task_logs", "webserver_logs", "worker_logs"):
        assert attr(block(logging, kind), "enabled") is True, kind
    for name, tf_env in tf.envs.items():
        requirements = attr(tf_env.modules["orchestration"], "requirements_file")
        assert requirements == "${path.module}/../shared/mwaa-requirements.txt", name
    assert 'FEATUREKIT_ENV="${var.environment}"' in d.locals["startup_script"]
    assert 'FEATUREKIT_ROOT="/usr/local/airflow/dags"' in d.locals["startup_script"]
    # the task environment: built from plugins.zip's wheel and pins (featurekit deploy), used by every task
    script = d.locals["startup_script"]
    assert '-r "$plugins/featurekit-requirements.txt" "$wheel"' in script and "--no-deps" in script
    assert 'export FEATUREKIT_TASK_PYTHON="$kit_venv/bin/python"' in script
    # ... on the locked Python, not MWAA's own (task_python_version, checked against the lock in test_runtime_versions)
    assert 'task_python="python${var.task_python_version}"' in script
    assert '"$task_python" -m venv "$kit_venv"' in script and "python3 -m venv" not in script
    assert attr(env, "startup_script_s3_object_version") == "${aws_s3_object.startup_script.version_id}"


# --- the featurekit_settings contract -------------------------------------------------------------------------------
@pytest.mark.parametrize("env", ENVS)
def test_settings_output_has_exactly_the_contract_keys(tf: TerraformCode, env: str) -> None:
    value = attr(tf.envs[env].outputs["featurekit_settings"], "value")
    flat = leaves(value)
    assert sorted(flat) == sorted(REQUIRED_KEYS)
    for key, expression in flat.items():
        # Every value comes from a module output or a variable: no endpoint is typed here.
        assert re.fullmatch(r"\$\{(module\.\w+\.\w+(\[\"\w+\"\])?|var\.region)\}", expression), (key, expression)
    assert flat["online_store.tiers.warm.url"] == '${module.online_store.tier_urls["warm"]}'
    assert flat["registry.path"] == "${module.registry.registry_path}"


def test_contract_keys_exist_in_the_kit_config_files() -> None:
    import yaml

    for env in ENVS:
        config = yaml.safe_load((REPO_ROOT / "config" / f"{env}.yaml").read_text())
        flat = leaves(config)
        missing = [key for key in REQUIRED_KEYS if key not in flat]
        assert not missing, f"config/{env}.yaml lacks {missing}: Terraform would render keys the kit ignores"


def test_module_outputs_render_the_settings_formats(tf: TerraformCode) -> None:
    registry = tf.modules["registry"]
    assert registry.resolve(registry.locals["registry_path"]) == (
        "s3://${var.name_prefix}-${var.environment}-registry/registry.pb"
    )
    online = tf.modules["online_store"]
    assert online.locals["tier_urls"].count("rediss://") == 1
    assert "${local.port}" in online.locals["tier_urls"]
    assert "configuration_endpoint_address" in online.locals["tier_hosts"]
    assert "primary_endpoint_address" in online.locals["tier_hosts"]


@pytest.mark.parametrize("env", ENVS)
def test_terraform_names_equal_the_placeholders_in_the_kit_config(tf: TerraformCode, env: str) -> None:
    """Names Terraform derives (not AWS-generated endpoints) match config/<env>.yaml, so rendering changes
    only the endpoints."""
    import yaml

    prefix = var_default(tf.envs[env], "name_prefix")

    def render(module: str, local: str) -> str:
        value = tf.modules[module].resolve(tf.modules[module].locals[local])
        return value.replace("${var.name_prefix}", prefix).replace("${var.environment}", env)

    config = yaml.safe_load((REPO_ROOT / "config" / f"{env}.yaml").read_text())
    offline = config["offline_store"]
    assert config["registry"]["path"] == render("registry", "registry_path")
    assert offline["s3_root"] == render("offline_store", "s3_root")
    assert offline["results_location"] == render("offline_store", "results_location")
    assert offline["workgroup"] == render("offline_store", "workgroup_name")
    assert offline["database"] == f"{prefix}_{env}".replace("-", "_")
    database_expression = re.sub(r"\s", "", tf.modules["offline_store"].locals["database_name"])
    assert database_expression == '${replace("${var.name_prefix}_${var.environment}","-","_")}'
    assert config["streaming"]["checkpoint_location"] == render("streaming", "checkpoint_location")
    assert offline["region"] == var_default(tf.envs[env], "region")


# --- wiring (what `terraform validate` would catch, which cannot run without providers) --------------------
_META_ARGUMENTS = {"source", "version", "count", "for_each", "depends_on", "providers"}


def _code(d: TfDir) -> str:
    text = "\n".join(p.read_text() for p in sorted(d.path.glob("*.tf")))
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(("#", "//")))


@pytest.mark.parametrize("name", [f"modules/{m}" for m in MODULES] + ["platform"])
def test_references_resolve_and_inputs_are_used(tf: TerraformCode, name: str) -> None:
    d = tf.modules[name.split("/")[1]] if name.startswith("modules/") else tf.root
    code = _code(d)

    used_vars = set(re.findall(r"\bvar\.([a-z_][a-z0-9_]*)", code))
    assert used_vars <= set(d.variables), f"{name}: undeclared variables {sorted(used_vars - set(d.variables))}"
    assert set(d.variables) <= used_vars, f"{name}: unused variables {sorted(set(d.variables) - used_vars)}"

    used_locals = set(re.findall(r"\blocal\.([a-z_][a-z0-9_]*)", code))
    assert used_locals <= set(d.locals), f"{name}: undefined locals {sorted(used_locals - set(d.locals))}"

    data_refs = set(re.findall(r"\bdata\.([a-z0-9_]+)\.([a-z0-9_]+)", code))
    assert data_refs <= set(d.data), f"{name}: undefined data sources {sorted(data_refs - set(d.data))}"
    without_data = re.sub(r"\bdata\.[a-z0-9_]+\.[a-z0-9_]+", "", code)
    resource_refs = set(re.findall(r"(?<![\w.])((?:aws|random)_[a-z0-9_]+)\.([a-z_][a-z0-9_]*)", without_data))
    assert resource_refs <= set(d.resources), f"{name}: undefined resources {sorted(resource_refs - set(d.resources))}"

    for call_name, call in d.modules.items():
        target = (d.path / attr(call, "source")).resolve()
        callee = next(m for m in tf.all_dirs() if m.path.resolve() == target)
        arguments = set(call) - _META_ARGUMENTS
        assert arguments <= set(callee.variables), (
            f"{name}: module.{call_name} gets unknown {arguments - set(callee.variables)}"
        )
        required = {v for v, body in callee.variables.items() if "default" not in body}
        assert required <= arguments, f"{name}: module.{call_name} misses required {sorted(required - arguments)}"
    for call_name, output in set(re.findall(r"\bmodule\.([a-z0-9_]+)\.([a-z0-9_]+)", code)):
        assert call_name in d.modules, f"{name}: unknown module.{call_name}"
        target = (d.path / attr(d.modules[call_name], "source")).resolve()
        callee = next(m for m in tf.all_dirs() if m.path.resolve() == target)
        assert output in callee.outputs, f"{name}: module.{call_name} has no output {output}"


@pytest.mark.parametrize("env", ENVS)
def test_tfvars_example_sets_declared_variables(tf: TerraformCode, env: str) -> None:
    """<env>.tfvars plus the site example (account-specific values) set every required variable of the root."""
    example = hcl2.loads((PLATFORM / "site.tfvars.example").read_text())
    keys = {k for k in example if not k.startswith("__")} | set(tfvars(env))
    assert keys <= set(tf.root.variables)
    required = {v for v, body in tf.root.variables.items() if "default" not in body}
    assert required <= keys, f"the example must show every required variable: {sorted(required - keys)}"
