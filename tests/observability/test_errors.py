"""Bad input for the operations commands: one clear message and exit code 1, never a traceback."""

from __future__ import annotations

import pytest

from featurekit.observability.consistency import check_consistency
from featurekit.observability.errors import OnlineStoreUnavailableError, RegistryUnavailableError
from featurekit.observability.freshness import check_freshness
from featurekit.services.ports import free_port
from support.ops_cli import run_cli
from support.ops_platform import ops_settings


@pytest.mark.parametrize("command", ["freshness", "consistency"])
def test_unreachable_redis(platform, command: str) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    result = run_cli([command, "--env", "local", "-v", "user_txn_24h"], platform.settings.data_dir, dead)
    assert result.exit_code == 1, result.output
    assert "online store: reading feature view 'user_txn_24h' failed" in result.output
    assert "Traceback" not in result.output
    with pytest.raises(OnlineStoreUnavailableError, match=r"user_profile.*Connection refused"):
        (check_freshness if command == "freshness" else check_consistency)(
            ops_settings(platform.settings.data_dir, dead), views=["user_profile"]
        )


@pytest.mark.parametrize("command", ["freshness", "consistency"])
def test_missing_registry(tmp_path, redis_url, command: str) -> None:
    result = run_cli([command, "--env", "local"], tmp_path / "never-applied", redis_url)
    assert result.exit_code == 1, result.output
    assert "registry" in result.output and "could not be read" in result.output
    assert "never-applied" in result.output and "Traceback" not in result.output


def test_unreachable_registry_bucket(tmp_path, redis_url, monkeypatch) -> None:
    """An S3 registry whose endpoint does not answer (the AWS boundary: a dead endpoint, no credentials needed)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    local = ops_settings(tmp_path, redis_url)
    registry = local.registry.model_copy(update={"path": "s3://featurekit-registry-unreachable/registry.db"})
    settings = local.model_copy(update={"registry": registry})
    with pytest.raises(RegistryUnavailableError, match=r"s3://featurekit-registry-unreachable/registry\.db"):
        check_freshness(settings)


def test_missing_registry_file_is_not_created(tmp_path, redis_url) -> None:
    with pytest.raises(RegistryUnavailableError, match="the file does not exist"):
        check_freshness(ops_settings(tmp_path, redis_url))
    assert not (tmp_path / "registry.db").exists()
