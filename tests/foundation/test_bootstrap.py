"""Set-up: a missing system package without a way to install it gives one line naming it, and a non-zero exit."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from featurekit.config.loader import project_root
from featurekit.services.redis_server import RedisServer, ServiceUnavailableError


def _shim_path(tmp_path: Path, *, tools: list[str]) -> str:
    """A PATH holding only ``tools`` (symlinked) and an ``id`` that reports a non-root user."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in tools:
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    (bin_dir / "id").write_text("#!/bin/sh\necho 1000\n")
    (bin_dir / "id").chmod(0o755)
    return str(bin_dir)


def test_bootstrap_names_the_missing_package_when_it_cannot_install(tmp_path: Path) -> None:
    path = _shim_path(tmp_path, tools=["bash", "dirname", "grep", "java", "uv", "python3"])
    result = subprocess.run(
        ["bash", str(project_root() / "scripts" / "bootstrap.sh")],
        env={"PATH": path, "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines == ["bootstrap: missing system packages; install them with: sudo apt-get install -y redis-server"]


def test_starting_redis_without_the_binary_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ServiceUnavailableError, match=r"apt-get install -y redis-server"):
        RedisServer.start()


def test_demo_cli_fails_with_one_line_when_redis_is_missing(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": _shim_path(tmp_path, tools=["python3"]), "FEATUREKIT_DATA_DIR": str(tmp_path)}
    env.pop("FEATUREKIT_REDIS_URL", None)
    featurekit = shutil.which("featurekit")
    assert featurekit, "the featurekit console script is installed in the environment"
    result = subprocess.run(
        [featurekit, "demo"], env=env, capture_output=True, text=True, timeout=120, cwd=project_root()
    )
    assert result.returncode == 1
    assert "redis-server not found: install it with `apt-get install -y redis-server`" in result.stderr
    assert "Traceback" not in result.stderr
