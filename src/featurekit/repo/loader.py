"""Load the feature repo's Feast objects, remembering the file that defines each one.

Collection of objects is Feast's own ``parse_repo``; this module adds what Feast does not keep: the defining file
of each object (from the module's top-level assignments), so rule violations and plans can name ``file:object``.
"""

from __future__ import annotations

import ast
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from featurekit.config.active import use_settings
from featurekit.config.settings import Settings
from featurekit.errors import FeaturekitError

KINDS = {
    "entities": "entity",
    "data_sources": "data source",
    "feature_views": "feature view",
    "stream_feature_views": "stream feature view",
    "on_demand_feature_views": "on-demand feature view",
    "feature_services": "feature service",
}


class RepoLoadError(FeaturekitError, RuntimeError):
    """A feature repo file failed to import; the message names the file and the error."""


@dataclass
class LoadedRepo:
    """Feast's ``RepoContents`` plus where each object is defined (relative path in the repo)."""

    root: Path
    contents: Any
    origins: dict[int, str] = field(default_factory=dict)
    # ``module:name`` -> top-level function of a repo module (stream transforms are referenced by this key).
    functions: dict[str, Any] = field(default_factory=dict)

    def origin(self, obj: object) -> str:
        return self.origins.get(id(obj), "<unknown file>")

    def objects(self) -> Iterator[tuple[str, Any]]:
        """``(kind, object)`` for every named object in the repo (excluding Feast's dummy entity)."""
        for attr, kind in KINDS.items():
            for obj in getattr(self.contents, attr):
                if getattr(obj, "name", "") != "__dummy":
                    yield kind, obj

    @property
    def batch_views(self) -> list[Any]:
        return list(self.contents.feature_views)

    @property
    def stream_views(self) -> list[Any]:
        return list(self.contents.stream_feature_views)

    def view(self, name: str) -> Any:
        for view in [*self.contents.feature_views, *self.contents.stream_feature_views]:
            if view.name == name:
                return view
        known = sorted(v.name for v in [*self.contents.feature_views, *self.contents.stream_feature_views])
        raise KeyError(f"unknown feature view {name!r}; known: {known}")


def load_repo(settings: Settings) -> LoadedRepo:
    """Import every Python file of ``settings.feature_repo`` with ``settings`` active."""
    from feast.project import Project
    from feast.repo_operations import parse_repo

    root = settings.feature_repo.resolve()
    with use_settings(settings), _importable(root):
        try:
            contents = parse_repo(root)
        except Exception as exc:
            raise RepoLoadError(f"{root}: loading the feature repo failed: {type(exc).__name__}: {exc}") from exc
        origins = _origins(root)
        functions = _functions(root)
    # Batch sources built inline inside a stream source are defined where the stream source is.
    for source in contents.data_sources:
        inner = getattr(source, "batch_source", None)
        if inner is not None and id(source) in origins:
            origins.setdefault(id(inner), origins[id(source)])
    if not contents.projects:
        contents.projects.append(Project(name=settings.project, description="featurekit feature repo"))
    return LoadedRepo(root=root, contents=contents, origins=origins, functions=functions)


@contextmanager
def _importable(root: Path) -> Iterator[None]:
    """Make the repo's modules importable fresh (Feast names modules relative to the working directory).

    Modules with the repo's module names are dropped before and after, whatever file they came from: two repos
    (an edited copy in a plan, a PR checkout) both have ``entities`` and ``feature_views.profile``.
    """
    previous_cwd = os.getcwd()
    names = _module_names(root)
    _forget(names)
    sys.path.insert(0, str(root))
    os.chdir(root)
    try:
        yield
    finally:
        os.chdir(previous_cwd)
        sys.path.remove(str(root))
        _forget(names)


def _module_names(root: Path) -> set[str]:
    names: set[str] = set()
    for path in root.rglob("*.py"):
        parts = path.relative_to(root).with_suffix("").parts
        names.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return {n.removesuffix(".__init__") for n in names}


def _forget(names: set[str]) -> None:
    for name in names:
        sys.modules.pop(name, None)


def _origins(root: Path) -> dict[int, str]:
    """Map ``id(obj)`` to the file whose top-level code binds it by assignment or definition (not import)."""
    origins: dict[int, str] = {}
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None) or ""
        if not file or not Path(file).resolve().is_relative_to(root):
            continue
        relative = str(Path(file).resolve().relative_to(root))
        for bound in _bound_names(Path(file)):
            obj = getattr(module, bound, None)
            if obj is not None and name:
                origins.setdefault(id(obj), relative)
    return origins


def _functions(root: Path) -> dict[str, Any]:
    """``module:name`` -> function for every top-level function of the repo's modules (while they are loaded)."""
    found: dict[str, Any] = {}
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None) or ""
        if not file or not Path(file).resolve().is_relative_to(root):
            continue
        for node in ast.parse(Path(file).read_text(), filename=file).body:
            if isinstance(node, ast.FunctionDef) and callable(getattr(module, node.name, None)):
                found[f"{name}:{node.name}"] = getattr(module, node.name)
    return found


def _bound_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
    return names
