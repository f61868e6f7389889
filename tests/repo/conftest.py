"""Fixtures for the CI/CD tests: moto's S3 server holding the dev and prod registry buckets, editable copies of the
feature repo, and settings for the real ``dev``/``prod`` environment files pointed at them.

Only the AWS boundary is emulated (moto's server mode, reached through ``AWS_ENDPOINT_URL`` by boto3, which both the
kit and Feast's own S3 registry store use); Redis is the real test server.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest

from featurekit.config import Settings, load_settings
from featurekit.config.loader import project_root
from support.moto_s3 import AWS_ENV, moto_s3

BUCKETS = {"dev": "featurekit-dev-registry", "prod": "featurekit-prod-registry"}


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's S3 in server mode with one registry bucket per environment, like the Terraform stacks."""
    with moto_s3(BUCKETS.values()) as endpoint:
        yield endpoint


@pytest.fixture
def s3_endpoint(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point boto3 (the kit's and Feast's S3 clients) at moto for one test; the environment is restored after it,
    so other suites in the same session never see the emulator."""
    for key, value in {**AWS_ENV, "AWS_ENDPOINT_URL": moto_server}.items():
        monkeypatch.setenv(key, value)
    return moto_server


@pytest.fixture
def s3(s3_endpoint: str):
    return boto3.client("s3")


@pytest.fixture
def feature_repo_copy(tmp_path: Path) -> Path:
    """An editable copy of the project's feature repo."""
    target = tmp_path / "feature_repo"
    shutil.copytree(project_root() / "feature_repo", target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.fixture
def make_env(s3_endpoint: str, redis_url: str, tmp_path: Path) -> Callable[..., Settings]:
    """Settings for ``dev`` or ``prod`` from the real environment files, with a registry key unique to the test
    (``s3://<env bucket>/<test id>/registry.pb``), the test Redis and a chosen feature repo directory."""
    run = uuid.uuid4().hex[:8]

    def build(env: str, repo: Path | None = None, *, registry: str | None = None) -> Settings:
        tier = {"url": redis_url, "username": None, "password": None}
        overrides = {
            "feature_repo": str(repo or project_root() / "feature_repo"),
            "data_dir": str(tmp_path / "data" / env),
            "registry": {"path": registry or f"s3://{BUCKETS[env]}/{run}/registry.pb"},
            "online_store": {"tiers": {"hot": tier, "warm": tier}},
        }
        return load_settings(env, environ={"FEATUREKIT_REDIS_PASSWORD": "unused"}, overrides=overrides)

    return build


@pytest.fixture
def project_copy(s3_endpoint: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throw-away featurekit project root (``config/`` + ``feature_repo/``) that the CLI uses through
    ``FEATUREKIT_ROOT``: the real environment files with registry keys unique to the test and the test Redis."""
    import yaml

    root = tmp_path / "project"
    shutil.copytree(
        project_root() / "feature_repo", root / "feature_repo", ignore=shutil.ignore_patterns("__pycache__")
    )
    (root / "config").mkdir()
    run = uuid.uuid4().hex[:8]
    for env in ("local", "dev", "prod"):
        data = yaml.safe_load((project_root() / "config" / f"{env}.yaml").read_text())
        if env in BUCKETS:
            data["registry"]["path"] = f"s3://{BUCKETS[env]}/{run}/registry.pb"
            data["data_dir"] = str(tmp_path / "data" / env)
            data["online_store"]["tiers"] = {name: {"url": redis_url} for name in ("hot", "warm")}
        (root / "config" / f"{env}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    monkeypatch.setenv("FEATUREKIT_ROOT", str(root))
    monkeypatch.delenv("FEATUREKIT_ENV", raising=False)
    return root
