"""Set-up: a missing system package without a way to install it gives one line naming it, and a non-zero exit."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from featurekit.config.loader import project_root
from featurekit.services.redis_server import RedisServer, ServiceUnavailableError


def _shim_path(tmp_path: Path, *, tools: list[str], scripts: dict[str, str] | None = None) -> str:
    """A PATH holding only ``tools`` (symlinked), ``scripts`` (name -> shell body) and an ``id`` that reports a
    non-root user."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in tools:
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    for name, body in {"id": "echo 1000", **(scripts or {})}.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    return str(bin_dir)


def _bootstrap(path: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(project_root() / "scripts" / "bootstrap.sh")],
        env={"PATH": path, "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_bootstrap_names_the_missing_package_when_it_cannot_install(tmp_path: Path) -> None:
    # python3 stands for one that can create virtual environments (`import ensurepip, venv` succeeds).
    path = _shim_path(tmp_path, tools=["bash", "dirname", "grep", "java"], scripts={"python3": "exit 0"})
    result = _bootstrap(path, tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines == ["bootstrap: missing system packages; install them with: sudo apt-get install -y redis-server"]


def test_bootstrap_names_python3_venv_when_uv_must_be_installed_without_it(tmp_path: Path) -> None:
    """PEP 668 systems (Debian 12+, Ubuntu 23.04+) refuse `pip install --user`, so uv goes into its own virtual
    environment; Debian ships ensurepip separately (python3-venv), and a non-root user is told to install it."""
    path = _shim_path(
        tmp_path, tools=["bash", "dirname", "grep", "java", "redis-server"], scripts={"python3": "exit 1"}
    )
    result = _bootstrap(path, tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "bootstrap: missing system packages; install them with: sudo apt-get install -y python3-venv"
    ]
    assert not (tmp_path / ".local").exists(), "nothing is installed before the missing package is there"


def test_bootstrap_names_python3_when_there_is_none(tmp_path: Path) -> None:
    path = _shim_path(tmp_path, tools=["bash", "dirname", "grep", "java", "redis-server"])
    result = _bootstrap(path, tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "bootstrap: missing system packages; install them with: sudo apt-get install -y python3 python3-venv"
    ]


def test_starting_redis_without_the_binary_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ServiceUnavailableError, match=r"apt-get install -y redis-server"):
        RedisServer.start()


def test_demo_cli_fails_with_one_line_when_redis_is_missing(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": _shim_path(tmp_path, tools=["python3"]), "FEATUREKIT_DATA_DIR": str(tmp_path)}
    env.pop("FEATUREKIT_REDIS_URL", None)
    featurekit = Path(sys.executable).parent / "featurekit"
    assert featurekit.is_file(), "the featurekit console script is installed in the environment"
    result = subprocess.run(
        [featurekit, "demo"], env=env, capture_output=True, text=True, timeout=120, cwd=project_root()
    )
    assert result.returncode == 1
    assert "redis-server not found: install it with `apt-get install -y redis-server`" in result.stderr
    assert "Traceback" not in result.stderr


def test_apt_has_sees_candidates_under_pipefail(tmp_path: Path) -> None:
    """``apt_has`` (which optional tools and which Java to install) as the script runs it, under ``pipefail``,
    against an ``apt-cache`` that keeps writing after the Candidate line: piped into ``grep -q`` it died of
    SIGPIPE and every package looked unavailable."""
    text = (project_root() / "scripts" / "bootstrap.sh").read_text()
    start = text.index("apt_has() {")
    function = text[start : text.index("\n}\n", start) + 3]
    filler = "  500 http://deb.debian.org/debian bookworm/main amd64 Packages"
    policy = (
        'if [ "$2" = gone ]; then echo "gone:"; echo "  Candidate: (none)"; exit 0; fi\n'
        'echo "$2:"; echo "  Installed: (none)"; echo "  Candidate: 1.0-1"\n'
        f'i=0; while [ $i -lt 3000 ]; do echo "{filler}"; i=$((i+1)); done'  # ~190 kB, past any pipe buffer
    )
    path = _shim_path(tmp_path, tools=["bash", "grep"], scripts={"apt-cache": policy})
    probe = f"set -euo pipefail\n{function}\nfor p in chromium gone; do apt_has $p && echo yes $p || echo no $p; done"
    result = subprocess.run(["bash", "-c", probe], env={"PATH": path}, capture_output=True, text=True, timeout=60)
    assert result.stdout.split("\n")[:2] == ["yes chromium", "no gone"], result.stderr


def test_no_two_locked_distributions_install_the_same_file() -> None:
    """Two distributions writing one file (python-hcl2 and checkov's bc-python-hcl2 both ship ``hcl2/``) leave the
    environment to whichever uv installed last: a clean clone then passes or fails at random."""
    from collections import defaultdict
    from importlib.metadata import distributions

    owners: defaultdict[str, set[str]] = defaultdict(set)
    for dist in distributions():
        for file in dist.files or []:
            name = str(file)
            if ".dist-info/" in name or "__pycache__" in name or name.startswith(".."):
                continue  # metadata, bytecode caches and console scripts are per distribution or regenerated
            owners[name].add(dist.metadata["Name"])
    shared = {name: sorted(who) for name, who in owners.items() if len(who) > 1}
    assert not shared, f"files installed by more than one distribution: {dict(sorted(shared.items())[:10])}"
