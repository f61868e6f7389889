"""``__all__`` says exactly what a package exports: every public name its ``__init__`` defines or re-exports from the
kit is listed, and every listed name exists (also for lazily imported names and for modules that declare one)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import featurekit

SRC = Path(featurekit.__file__).parent


def packages() -> list[str]:
    found = ["featurekit"]
    found += [m.name for m in pkgutil.walk_packages([str(SRC)], "featurekit.") if m.ispkg]
    return sorted(found)


def modules_declaring_all() -> list[str]:
    """Modules (not packages) with an ``__all__``: found by parsing, so nothing heavy is imported to find them."""
    out = []
    for path in SRC.rglob("*.py"):
        if path.name != "__init__.py" and "__all__" in path.read_text():
            out.append("featurekit." + ".".join(path.relative_to(SRC).with_suffix("").parts))
    return sorted(out)


def exported_by_init(source: str) -> set[str]:
    """Public names an ``__init__`` defines at top level (functions, classes, assignments) or imports from the kit
    itself (``from featurekit... import X``, also under ``if TYPE_CHECKING:``); other libraries' names are its own."""
    names: set[str] = set()
    body = ast.parse(source).body
    statements = body + [inner for node in body if isinstance(node, ast.If) for inner in node.body]
    for node in statements:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("featurekit"):
            names |= {alias.asname or alias.name for alias in node.names}
    return {n for n in names if not n.startswith("_")}


def test_package_all_lists_every_public_name_and_nothing_else() -> None:
    problems = {}
    for name in packages():
        init = SRC.joinpath(*name.split(".")[1:], "__init__.py")
        public = exported_by_init(init.read_text())
        module = importlib.import_module(name)
        declared = list(getattr(module, "__all__", []))
        missing = sorted(public - set(declared))
        absent = sorted(n for n in declared if not hasattr(module, n))
        duplicated = sorted({n for n in declared if declared.count(n) > 1})
        if missing or absent or duplicated:
            problems[name] = {"not in __all__": missing, "in __all__ but absent": absent, "twice": duplicated}
    assert problems == {}


def test_every_name_in_a_module_all_exists() -> None:
    problems = {}
    for name in modules_declaring_all():
        module = importlib.import_module(name)
        absent = sorted(n for n in module.__all__ if not hasattr(module, n))
        if absent:
            problems[name] = absent
    assert problems == {}


def test_the_check_catches_an_unlisted_name_and_a_listed_ghost() -> None:
    source = 'from featurekit.config.loader import load_settings\nfrom typing import Any\n__all__ = ["ghost"]\n'
    assert exported_by_init(source) == {"load_settings"}  # the kit's re-export counts, typing's Any does not
    assert exported_by_init("def helper():\n    pass\n_private = 1\nPUBLIC = 2\n") == {"helper", "PUBLIC"}
