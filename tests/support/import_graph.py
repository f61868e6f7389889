"""The import graph of ``src/featurekit`` and the layer order it must follow (docs/architecture.md).

Read from the source with :mod:`ast`, nothing is imported. Every ``import``/``from ... import`` counts, at module
level and inside functions alike (a function-level import is a real dependency; it only runs later), except those
under ``if TYPE_CHECKING:``, which never run. An import of ``featurekit.a.b.c`` is an edge to the module it names
(``from featurekit.a.b import c`` names module ``c`` when ``c`` is one, else ``featurekit.a.b``). Imports by a
string (``importlib.import_module``) are not seen: the kit uses them only where Feast's own convention does (a
backend named by import path in the settings, see ``featurekit.config.backends``).

``python -m support.import_graph`` (from ``tests/``) prints the package graph as a Mermaid diagram, the picture in
docs/architecture.md.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "featurekit"

# The layer order, lowest first: a module may import its own layer and the layers below, never one above. Units
# are the top-level packages and modules of featurekit. Keep in step with docs/architecture.md.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("leaves", ("errors", "metrics")),
    ("base", ("config", "intervals", "arrow_types", "duckdb_utc", "tags")),
    ("stores and backends", ("online_store", "offline", "warehouse")),
    ("repo", ("repo",)),
    ("data jobs", ("pipelines", "quality", "monitoring", "observability", "catalog")),
    ("runtimes", ("orchestration", "streaming", "serving", "deploy", "services")),
    ("entry points", ("cli", "demo")),
]
LEAVES = ("errors", "metrics")  # import nothing from featurekit at all


@dataclass(frozen=True)
class Import:
    """One import statement's edge: ``source`` imports ``target`` at ``path:line``."""

    source: str
    target: str
    path: Path
    line: int

    def where(self) -> str:
        return f"{self.path.relative_to(SRC.parents[1])}:{self.line}"

    def __str__(self) -> str:
        return f"{self.where()}: {self.source} imports {self.target}"


def modules() -> dict[str, Path]:
    """``featurekit.x.y`` -> file, packages by their ``__init__.py``."""
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = ("featurekit", *path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _statements(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement of a module, skipping ``if TYPE_CHECKING:`` bodies (their ``else`` still counts)."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
            return
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


@cache
def _read() -> tuple[Import, ...]:
    """Every edge from one featurekit module to another (self-imports dropped), read once per process."""
    known = modules()
    edges: list[Import] = []
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _statements(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
            for target in dict.fromkeys(targets):
                while target and target not in known:
                    target = target.rpartition(".")[0]
                if target.startswith("featurekit") and target not in (name, "featurekit"):
                    edges.append(Import(name, target, path, node.lineno))
    return tuple(edges)


def imports() -> list[Import]:
    """Every edge from one featurekit module to another (self-imports dropped)."""
    return list(_read())


def unit(module: str) -> str:
    """The layer unit of a module: its top-level package or module under featurekit."""
    return module.split(".")[1]


def rank() -> dict[str, int]:
    return {u: i for i, (_, units) in enumerate(LAYERS) for u in units}


def unplaced() -> list[str]:
    """Top-level packages and modules that no layer names."""
    ranks = rank()
    return sorted({unit(m) for m in modules() if m != "featurekit"} - set(ranks))


def upward(edges: list[Import]) -> list[str]:
    """Imports of a higher layer, and any featurekit import from a leaf, each with its file:line."""
    ranks, names = rank(), [name for name, _ in LAYERS]
    problems = []
    for e in edges:
        low, high = unit(e.source), unit(e.target)
        if low in LEAVES and low != high:
            problems.append(f"{e}: {low} is a leaf and imports nothing from featurekit")
        elif low in ranks and high in ranks and ranks[high] > ranks[low]:
            problems.append(f"{e}: layer {names[ranks[low]]!r} imports the higher layer {names[ranks[high]]!r}")
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan, iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def cycle_report(edges: list[Import], key: object = None) -> list[str]:
    """Each import cycle (between modules, or between units when ``key`` is :func:`unit`) with the imports in it."""
    name = key if callable(key) else (lambda m: m)
    graph: dict[str, set[str]] = defaultdict(set)
    for e in edges:
        if name(e.source) != name(e.target):
            graph[name(e.source)].add(name(e.target))
    reports = []
    for component in cycles(graph):
        members = set(component)
        inside = [str(e) for e in edges if name(e.source) in members and name(e.target) in members
                  and name(e.source) != name(e.target)]  # fmt: skip
        reports.append(f"cycle {' <-> '.join(component)}:\n    " + "\n    ".join(inside))
    return reports


def reduced(edges: list[Import]) -> list[tuple[str, str]]:
    """The unit graph without the edges implied by a longer path (its transitive reduction: a DAG's is unique)."""
    succ: dict[str, set[str]] = defaultdict(set)
    for e in edges:
        if unit(e.source) != unit(e.target):
            succ[unit(e.source)].add(unit(e.target))

    def reaches(start: str, goal: str, skip: str) -> bool:
        seen, todo = set(), [n for n in succ[start] if n != skip]
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                todo.extend(succ[node])
        return False

    return sorted((a, b) for a in list(succ) for b in succ[a] if not reaches(a, b, skip=b))


def mermaid(edges: list[Import]) -> str:
    """The unit graph (transitively reduced) as a Mermaid flowchart, one subgraph per layer, top layer first."""
    lines = ["flowchart TD"]
    for i, (name, units) in reversed(list(enumerate(LAYERS))):
        lines.append(f'  subgraph L{i}["{name}"]')
        lines.extend(f"    {u}" for u in units)
        lines.append("  end")
    lines.extend(f"  {source} --> {target}" for source, target in reduced(edges))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(mermaid(imports()) + "\n")
