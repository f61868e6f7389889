"""Apply the feature repo to an environment's registry, after the repository rules pass."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

from featurekit.config.settings import Settings
from featurekit.repo.feast_config import feature_store
from featurekit.repo.loader import LoadedRepo, load_repo
from featurekit.repo.rules import Violation, check_repo


class RepoRuleError(ValueError):
    """The feature repo breaks repository rules; ``violations`` lists each with file, object and rule."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        lines = "\n".join(f"  {v}" for v in violations)
        super().__init__(f"{len(violations)} feature definition rule violation(s):\n{lines}")


@dataclass
class ApplyResult:
    project: str
    registry: str
    output: str


def checked_repo(settings: Settings) -> LoadedRepo:
    """Load the repo and refuse it if any rule is broken."""
    repo = load_repo(settings)
    violations = check_repo(repo)
    if violations:
        raise RepoRuleError(violations)
    return repo


def apply_repo(settings: Settings, repo: LoadedRepo | None = None) -> ApplyResult:
    """Register every object in the environment's registry and set up the online store (Feast's apply)."""
    from feast.repo_operations import apply_total_with_repo_instance

    repo = repo or checked_repo(settings)
    store = feature_store(settings)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        apply_total_with_repo_instance(
            store, settings.project, store.registry, repo.contents, skip_source_validation=True
        )
    return ApplyResult(project=settings.project, registry=settings.registry.path, output=buffer.getvalue())
