"""The test tree's own rules: helpers live in tests/support, and no test module imports a conftest module (pytest
runs in importlib mode: test modules are imported by path, never as packages of one another)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def imports_of(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return names


def test_no_test_module_imports_a_conftest_or_another_test_folder() -> None:
    offenders = {}
    for path in TESTS.rglob("*.py"):
        bad = {
            name
            for name in imports_of(path)
            if name.startswith(".") or name.split(".")[-1] == "conftest" or name.startswith("tests")
        }
        if bad:
            offenders[str(path.relative_to(TESTS))] = sorted(bad)
    assert offenders == {}, "put shared helpers in tests/support and import them as support.<module>"


def test_only_support_is_a_package() -> None:
    packages = sorted(str(p.parent.relative_to(TESTS)) for p in TESTS.rglob("__init__.py"))
    assert packages == ["support"]


def test_the_check_sees_conftest_and_relative_imports(tmp_path: Path) -> None:
    module = tmp_path / "test_x.py"
    module.write_text("from .conftest import USERS\nfrom serving.conftest import write_repo\nimport support.cicd\n")
    assert imports_of(module) == {".conftest", "serving.conftest", "support.cicd"}
