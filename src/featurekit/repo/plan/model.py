"""What a plan is: the changed objects of one project, their attribute changes and the breaking changes found.

Computed by :mod:`featurekit.repo.plan.diff`, rendered by :mod:`featurekit.repo.plan.render`; ``to_dict``/``to_json``
are the machine form.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from featurekit.repo.plan import render

Action = Literal["add", "change", "remove"]
KIND_ORDER = (
    "project",
    "entity",
    "data source",
    "feature view",
    "stream feature view",
    "on-demand feature view",
    "feature service",
)


@dataclass(frozen=True)
class Change:
    """One attribute of one object: ``before`` is None when it is new, ``after`` is None when it is gone."""

    attribute: str
    before: str | None
    after: str | None

    def __str__(self) -> str:
        if self.before is None:
            return f"+ {self.attribute}: {self.after}"
        if self.after is None:
            return f"- {self.attribute}: {self.before}"
        return f"~ {self.attribute}: {self.before} -> {self.after}"


@dataclass(frozen=True)
class ObjectChange:
    kind: str
    name: str
    action: Action
    changes: tuple[Change, ...] = ()

    @property
    def sort_key(self) -> tuple[int, str]:
        return KIND_ORDER.index(self.kind), self.name


@dataclass(frozen=True)
class BreakingChange:
    """A change that breaks a consumer of a feature service or an entity; see :mod:`featurekit.repo.breaking`."""

    rule: str
    kind: str
    name: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind} '{self.name}': [{self.rule}] {self.message}"


@dataclass
class Plan:
    env: str
    project: str
    registry: str
    objects: list[ObjectChange] = field(default_factory=list)
    breaking: list[BreakingChange] = field(default_factory=list)
    allow_breaking: bool = False

    @property
    def has_changes(self) -> bool:
        return bool(self.objects)

    @property
    def blocked(self) -> bool:
        """True when breaking changes are present and not explicitly allowed."""
        return bool(self.breaking) and not self.allow_breaking

    def count(self, action: Action) -> int:
        return sum(1 for o in self.objects if o.action == action)

    @property
    def summary(self) -> str:
        if not self.objects:
            return "no changes"
        return f"{self.count('add')} to add, {self.count('change')} to change, {self.count('remove')} to remove"

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "project": self.project,
            "registry": self.registry,
            "summary": {a: self.count(a) for a in ("add", "change", "remove")},
            "objects": [asdict(o) for o in self.objects],
            "breaking": [asdict(b) for b in self.breaking],
            "allow_breaking": self.allow_breaking,
            "blocked": self.blocked,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    def to_text(self) -> str:
        """The terminal form (``featurekit plan``)."""
        return render.text(self)

    def to_markdown(self) -> str:
        """The PR comment: starts with a hidden marker so CI updates one comment instead of adding more."""
        return render.markdown(self)
