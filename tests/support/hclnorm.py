"""Read Terraform files with checkov's bc-python-hcl2, the one ``hcl2`` package in the environment.

Its parse wraps every attribute value in a one-element list and adds line markers: ``load`` strips the markers,
``attr`` unwraps an attribute and ``blocks`` reads nested blocks. python-hcl2 is deliberately not a dependency: it
installs a package of the same name, ``hcl2``, so whichever distribution uv wrote last owned it and either checkov
or these readers broke at random (a clean-clone CI run failed that way). The probe below fails at import, naming
the cause, if another ``hcl2`` is installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hcl2

_MARKERS = {"__start_line__", "__end_line__"}
_MISSING = object()

_probe = hcl2.loads('a = "x"\n')
if _probe.get("a") != ["x"]:
    raise ImportError(
        f"hcl2 parsed 'a = \"x\"' as {_probe!r}, not checkov's bc-python-hcl2 shape ['x']: another distribution "
        f"(python-hcl2?) overwrote the hcl2 package at {hcl2.__file__}; remove it and reinstall (uv sync --reinstall)"
    )


def _clean(node: Any) -> Any:
    if isinstance(node, dict):
        return {_clean(k): _clean(v) for k, v in node.items() if k not in _MARKERS}
    if isinstance(node, list):
        return [_clean(v) for v in node]
    return node


def load(path: Path) -> dict[str, Any]:
    """One .tf file, line markers stripped."""
    return _clean(hcl2.loads(Path(path).read_text()))


def attr(body: dict[str, Any], name: str, default: Any = _MISSING) -> Any:
    """The value of attribute ``name`` of a block body."""
    if name not in body:
        if default is _MISSING:
            raise KeyError(f"attribute {name!r} not set (keys: {sorted(body)})")
        return default
    value = body[name]
    assert isinstance(value, list) and len(value) == 1, f"{name!r} is not an attribute: {value!r}"
    return value[0]


def blocks(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The nested blocks ``name`` of a block body (empty list if none)."""
    value = body.get(name, [])
    assert isinstance(value, list) and all(isinstance(b, dict) for b in value), f"{name!r} is not a block"
    return value


def block(body: dict[str, Any], name: str) -> dict[str, Any]:
    """The single nested block ``name``."""
    found = blocks(body, name)
    assert len(found) == 1, f"expected exactly one {name!r} block, found {len(found)}"
    return found[0]
