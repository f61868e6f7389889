"""System tools some tests drive (Chromium, promtool, a Pushgateway), installed by ``scripts/bootstrap.sh`` as root.

A developer without root may lack them: the test is skipped, naming the package. In CI (``CI`` set, as CI services
and ``.ci/run`` environments do) the bootstrap has installed them, so a missing tool is a failure there, not a skip.
"""

from __future__ import annotations

import os

import pytest


def require_tool(name: str, path: str | None, package: str) -> str:
    """``path`` when the tool exists; otherwise skip (developer machine) or fail (CI), naming the package."""
    if path and os.path.exists(path):
        return path
    message = f"{name} is not installed (apt-get install {package}; scripts/bootstrap.sh does as root)"
    if os.environ.get("CI"):
        pytest.fail(f"in CI: {message}")
    pytest.skip(message)
