"""The example around the feature repo (its synthetic warehouse, its own demo stages), reached by import path only.

The kit is generic: example-domain code lives outside ``src/featurekit`` in the project's ``examples`` package
(next to ``feature_repo/``). ``featurekit demo`` and ``featurekit warehouse generate`` import the module
``examples.demo`` from the project root at run time, the way ``featurekit bench`` imports ``bench.<name>``. A fork
with its own example replaces that module; its contract:

- ``warehouse(*, users, days, end, seed, txn_per_user_day) -> object with .tables() -> {name: pyarrow.Table}``;
- ``STAGES``: ``[(title, fn(settings, options, console))]``, run by the demo after the DAGs.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

EXAMPLE_MODULE = "examples.demo"


def example_module(name: str = EXAMPLE_MODULE) -> ModuleType:
    """Import ``name`` with the project root on ``sys.path``; a missing module is an error naming it."""
    from featurekit.config import project_root

    root = str(project_root())
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        raise RuntimeError(f"example module {name!r} not found under {root}: {exc}") from exc
