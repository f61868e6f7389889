"""Environment files for tests: a copy of ``config/<base>.yaml`` with some settings changed, passed as ``--env FILE``
(or ``FEATUREKIT_ENV=FILE``), exactly as an operator would point a worker at its own environment file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from featurekit.config.loader import project_root
from featurekit.config.merge import deep_merge


def environment_file(
    directory: Path, overrides: Mapping[str, Any], *, base: str = "local", root: Path | None = None
) -> Path:
    """Write ``<directory>/<base>.yaml``: ``config/<base>.yaml`` of ``root`` (default: this project) with
    ``overrides`` merged in; ``${VAR}`` references are kept, so they still resolve when the file loads."""
    source = (root or project_root()) / "config" / f"{base}.yaml"
    data = deep_merge(yaml.safe_load(source.read_text()), overrides)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{base}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
