"""checkov over infra/terraform: zero failed checks, every suppression inline with a reason.

checkov runs once per module (about 8 s). `--quiet` is not used so the report also lists the passed
checks, which lets the tests prove that the security checks were actually evaluated on our resources.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from support.tfcode import TF_ROOT

SKIP_COMMENT = re.compile(r"#\s*checkov:skip=(?P<ids>[A-Z0-9_,]+)(?::(?P<reason>.*))?")


def _checkov() -> str:
    local = Path(sys.executable).with_name("checkov")
    found = str(local) if local.exists() else shutil.which("checkov")
    if not found:
        pytest.fail("checkov is not installed (it is a dev dependency in pyproject.toml)")
    return found


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    proc = subprocess.run(
        [_checkov(), "-d", str(TF_ROOT), "--framework", "terraform", "--compact", "-o", "json", "--skip-download"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.stdout.strip(), f"checkov produced no report (exit {proc.returncode}): {proc.stderr[-2000:]}"
    data = json.loads(proc.stdout)
    reports = data if isinstance(data, list) else [data]
    (terraform,) = [r for r in reports if r.get("check_type") == "terraform"]
    return terraform


def test_zero_failed_checks(report: dict[str, Any]) -> None:
    failed = [
        f"{f['check_id']} {f['resource']} ({f['file_path']}:{f['file_line_range']}): {f['check_name']}"
        for f in report["results"]["failed_checks"]
    ]
    assert report["summary"]["failed"] == 0 and not failed, "\n".join(failed)
    assert report["summary"]["parsing_errors"] == 0


def test_the_whole_tree_was_scanned(report: dict[str, Any]) -> None:
    assert report["summary"]["resource_count"] >= 60
    passed: dict[str, set[str]] = {}
    for check in report["results"]["passed_checks"]:
        passed.setdefault(check["check_id"], set()).add(check["resource"])
    # Checks for the properties the issue names, evaluated on our resources (not vacuously absent).
    expectations = {
        "CKV_AWS_145": "aws_s3_bucket.this",  # S3 SSE-KMS
        "CKV_AWS_53": "aws_s3_bucket_public_access_block",  # block public ACLs
        "CKV_AWS_56": "aws_s3_bucket_public_access_block",  # restrict public buckets
        "CKV_AWS_21": "aws_s3_bucket",  # versioning
        "CKV_AWS_29": "aws_elasticache_replication_group.tier",  # Redis at rest
        "CKV_AWS_30": "aws_elasticache_replication_group.tier",  # Redis in transit
        "CKV_AWS_191": "aws_elasticache_replication_group.tier",  # Redis CMK
        "CKV_AWS_159": "aws_athena_workgroup.this",  # Athena encryption
        "CKV_AWS_82": "aws_athena_workgroup.this",  # Athena enforced config
        "CKV_AWS_81": "aws_msk_cluster.this",  # MSK encryption in transit
        "CKV_AWS_291": "aws_msk_cluster.this",  # MSK private
        "CKV_AWS_149": "aws_secretsmanager_secret.redis",  # secret with CMK
        "CKV_AWS_7": "aws_kms_key.this",  # key rotation
        "CKV_AWS_41": "aws.default",  # no hard-coded credentials in the provider
    }
    for check_id, resource in expectations.items():
        assert any(resource in r for r in passed.get(check_id, ())), f"{check_id} did not pass on {resource}"
    # The data-bucket baseline applies to the 4 buckets made through modules/s3_bucket + the log bucket.
    assert len(passed["CKV_AWS_53"]) == 5


def test_suppressions_carry_a_reason(report: dict[str, Any]) -> None:
    for check in report["results"]["skipped_checks"]:
        reason = (check["check_result"].get("suppress_comment") or "").strip()
        assert len(reason) >= 20, f"{check['check_id']} on {check['resource']} is skipped without a reason"


def test_every_inline_skip_in_the_code_has_a_reason() -> None:
    count = 0
    for path in sorted(TF_ROOT.rglob("*.tf")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "checkov:skip" not in line:
                continue
            match = SKIP_COMMENT.search(line)
            assert match, f"{path}:{number}: malformed suppression {line.strip()!r}"
            assert len((match.group("reason") or "").strip()) >= 20, f"{path}:{number}: suppression without reason"
            assert re.fullmatch(r"CKV2?_AWS_\d+", match.group("ids")), f"{path}:{number}: one check per line"
            count += 1
    assert count >= 1
