"""The kit holds no example-domain code: no name the bundled feature repo declares (views, features, sources,
topics, services) and no word of its domain appears under ``src/featurekit``. The example's helpers live in the
project's ``examples`` package, which the kit reaches only by import path at run time."""

from __future__ import annotations

import ast
import re

from featurekit.config import project_root

# Words of the example's domain that are not declared names but would still mark example code.
DOMAIN_WORDS = {"cash_advance", "cash-advance", "balance", "balances", "payroll", "overdraft", "overdrafts"}
# Generic words the example also uses as names: the entity and its join key are the kit's running example in
# docstrings, like any Feast tutorial's ``driver``; "transactions" (a topic) and "state" (the slice column of the
# monitoring example) are plain words of any data platform.
GENERIC = {"user", "user_id", "transactions", "state"}


def declared_names() -> set[str]:
    """Every string given as ``name=`` or ``topic=`` (and every ``@on_demand_feature_view`` function) in the repo."""
    names: set[str] = set()
    for path in (project_root() / "feature_repo").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg in ("name", "topic") and isinstance(kw.value, ast.Constant):
                        names.add(kw.value.value)
            elif isinstance(node, ast.FunctionDef) and node.decorator_list:
                names.add(node.name)
    return names - GENERIC


def test_the_repo_declares_the_example_names_this_test_looks_for() -> None:
    names = declared_names()
    assert {"user_balance_live", "user_txn_1h", "balance-events", "cash_advance_v1", "balance_source"} <= names


def test_no_example_name_under_src_featurekit() -> None:
    words = declared_names() | DOMAIN_WORDS
    pattern = re.compile(
        r"(?<![\w-])(" + "|".join(sorted(map(re.escape, words), key=len, reverse=True)) + r")(?![\w-])"
    )
    found = []
    for path in sorted((project_root() / "src" / "featurekit").rglob("*")):
        if path.suffix not in (".py", ".yaml", ".json", ".sql", ".md", ".txt"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for match in pattern.finditer(line):
                found.append(f"{path.relative_to(project_root())}:{number}: {match.group(1)!r} in {line.strip()!r}")
    assert not found, "example-domain names in the kit:\n" + "\n".join(found)
