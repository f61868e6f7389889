"""Read Terraform files with python-hcl2, whichever ``hcl2`` build is installed.

Two distributions install the ``hcl2`` package: python-hcl2 (8.x: attribute values as-is, string literals
keep their quotes, blocks marked ``__is_block__``) and checkov's fork bc-python-hcl2 (every attribute value
wrapped in a one-element list, strings unquoted, line markers). Whichever was installed last owns ``hcl2``.
``load`` strips quotes and markers; ``attr``/``blocks`` read attributes and nested blocks the same way for
both, so the tests do not depend on which one the environment ended up with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hcl2

_MARKERS = {"__start_line__", "__end_line__", "__is_block__", "__comments__", "__inline_comments__"}
_MISSING = object()

_probe = hcl2.loads('a = "x"\n')
WRAPPED = isinstance(_probe["a"], list)  # bc-python-hcl2: attribute values wrapped in a list
QUOTED = not WRAPPED and _probe["a"] == '"x"'  # python-hcl2 >= 7: string literals keep their quotes


def _clean(node: Any) -> Any:
    if isinstance(node, dict):
        return {_clean(k): _clean(v) for k, v in node.items() if k not in _MARKERS}
    if isinstance(node, list):
        return [_clean(v) for v in node]
    if QUOTED and isinstance(node, str) and len(node) >= 2 and node[0] == node[-1] == '"':
        return node[1:-1].replace('\\"', '"')
    return node


def load(path: Path) -> dict[str, Any]:
    """One .tf file, quotes and markers stripped."""
    return _clean(hcl2.loads(Path(path).read_text()))


def attr(body: dict[str, Any], name: str, default: Any = _MISSING) -> Any:
    """The value of attribute ``name`` of a block body."""
    if name not in body:
        if default is _MISSING:
            raise KeyError(f"attribute {name!r} not set (keys: {sorted(body)})")
        return default
    value = body[name]
    if WRAPPED:
        assert isinstance(value, list) and len(value) == 1, f"{name!r} is not an attribute: {value!r}"
        return value[0]
    return value


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
