"""Fixtures for the infrastructure tests: the Terraform code under infra/terraform, parsed once."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from support.tfcode import TerraformCode, load_terraform_code


@pytest.fixture(scope="session")
def tf() -> TerraformCode:
    return load_terraform_code()
