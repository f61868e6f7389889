"""Layers point down only and nothing imports in a circle (the order is documented in docs/architecture.md).

The graph is read from the source (``tests/support/import_graph.py``): module-level and function-level imports both
count, ``if TYPE_CHECKING:`` imports do not. Each failure names the import with its file and line.
"""

from __future__ import annotations

import re
from pathlib import Path

from support import import_graph as graph

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


def test_every_package_has_a_layer() -> None:
    assert not graph.unplaced(), f"add these to LAYERS in tests/support/import_graph.py: {graph.unplaced()}"


def test_no_upward_import() -> None:
    problems = graph.upward(graph.imports())
    assert not problems, "imports against the layer order:\n" + "\n".join(problems)


def test_no_import_cycle_between_modules() -> None:
    problems = graph.cycle_report(graph.imports())
    assert not problems, "\n".join(problems)


def test_no_import_cycle_between_packages() -> None:
    problems = graph.cycle_report(graph.imports(), graph.unit)
    assert not problems, "\n".join(problems)


def test_the_checker_sees_what_it_must(tmp_path: Path) -> None:
    edges = graph.imports()
    found = {(e.source, e.target) for e in edges}
    # module level, function level (lazy), relative-free "from package import module"
    assert ("featurekit.offline.storage", "featurekit.offline.layout") in found
    assert ("featurekit.offline.availability", "featurekit.offline.parquet") in found  # inside a function
    assert not any(e.source == "featurekit.config.backends" and e.target.startswith("featurekit.online") for e in edges)
    fake = [graph.Import("featurekit.offline.storage", "featurekit.cli.main", graph.SRC / "offline/storage.py", 7)]
    assert graph.upward(fake) == [
        "src/featurekit/offline/storage.py:7: featurekit.offline.storage imports featurekit.cli.main: "
        "layer 'stores and backends' imports the higher layer 'entry points'"
    ]
    loop = [graph.Import("featurekit.a.x", "featurekit.b.y", graph.SRC / "a/x.py", 3),
            graph.Import("featurekit.b.y", "featurekit.a.x", graph.SRC / "b/y.py", 9)]  # fmt: skip
    (report,) = graph.cycle_report(loop)
    assert "src/featurekit/a/x.py:3" in report and "src/featurekit/b/y.py:9" in report


def test_the_documented_picture_is_the_current_graph() -> None:
    block = re.search(r"```mermaid\n(.*?)```", DOC.read_text(), re.S)
    assert block, f"{DOC} has no mermaid block"
    assert block.group(1).strip() == graph.mermaid(graph.imports()).strip(), (
        "docs/architecture.md's layer picture is stale: regenerate it with `cd tests && python -m support.import_graph`"
    )
