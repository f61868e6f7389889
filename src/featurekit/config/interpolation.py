"""``${VAR}`` and ``${VAR:-default}`` references in environment files.

Secrets and per-machine values never sit in the YAML; they are referenced and resolved from the process environment
when the settings load, so the same file works on a laptop, in CI and on a worker.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

_REFERENCE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


class MissingVariableError(KeyError):
    """A ``${VAR}`` without default names a variable that is not set."""


def interpolate(value: Any, environ: Mapping[str, str] | None = None, *, where: str = "") -> Any:
    """Resolve references in every string inside ``value`` (dicts and lists are walked)."""
    environ = os.environ if environ is None else environ
    if isinstance(value, dict):
        return {k: interpolate(v, environ, where=f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, environ, where=f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def resolve(match: re.Match[str]) -> str:
        name, default = match.group("name"), match.group("default")
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        raise MissingVariableError(f"{where}: environment variable ${{{name}}} is not set")

    return _REFERENCE.sub(resolve, value)
