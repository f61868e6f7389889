"""Repository rules on feature definitions: what every object must declare before it can be applied.

Each violation names the file, the object and the rule, so a data scientist can fix it from the message alone.
Rules are small functions registered in ``RULES``; adding one is adding a function.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from featurekit.repo.loader import LoadedRepo
from featurekit.repo.streams import view_problems
from featurekit.tags import ON_DEMAND_SCHEDULE, SCHEDULES, TIERS, monitoring_tag_problems, shards_tag
from featurekit.warehouse.sql import FeatureSQLError, load_feature_sql

SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
VERSIONED = re.compile(r"^[a-z][a-z0-9_]*_v[0-9]+$")


@dataclass(frozen=True, order=True)
class Violation:
    file: str
    kind: str
    name: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.kind} '{self.name}': [{self.rule}] {self.message}"


Rule = Callable[[LoadedRepo, str, Any], Iterator[tuple[str, str]]]
RULES: list[Rule] = []


def rule(fn: Rule) -> Rule:
    RULES.append(fn)
    return fn


def check_repo(repo: LoadedRepo) -> list[Violation]:
    """All violations in the repo, sorted by file and object."""
    found = []
    for kind, obj in repo.objects():
        for check in RULES:
            for rule_id, message in check(repo, kind, obj):
                found.append(Violation(repo.origin(obj), kind, obj.name, rule_id, message))
    return sorted(found)


def _is_view(kind: str) -> bool:
    return kind in ("feature view", "stream feature view")


@rule
def owner_required(repo: LoadedRepo, kind: str, obj: Any) -> Iterator[tuple[str, str]]:
    if kind != "data source" and not getattr(obj, "owner", ""):
        yield "owner-required", "set owner= to the team or person answering for it"


@rule
def description_required(repo: LoadedRepo, kind: str, obj: Any) -> Iterator[tuple[str, str]]:
    if kind != "data source" and not getattr(obj, "description", ""):
        yield "description-required", "set description= to say what it means and how it is computed"


@rule
def snake_case_names(repo: LoadedRepo, kind: str, obj: Any) -> Iterator[tuple[str, str]]:
    if kind != "data source" and not SNAKE_CASE.match(obj.name):
        yield "snake-case-name", f"name {obj.name!r} must be snake_case"
    if _is_view(kind) or kind == "on-demand feature view":
        for feature in obj.features:
            if not SNAKE_CASE.match(feature.name):
                yield "snake-case-name", f"feature {feature.name!r} must be snake_case"


@rule
def ttl_on_views(repo: LoadedRepo, kind: str, obj: Any) -> Iterator[tuple[str, str]]:
    if _is_view(kind) and (obj.ttl is None or obj.ttl.total_seconds() <= 0):
        yield "ttl-required", "set ttl= so stale values expire online and point-in-time joins are bounded"


@rule
def tier_and_schedule_tags(repo: LoadedRepo, kind: str, obj: Any) -> Iterator[tuple[str, str]]:
    if not (_is_view(kind) or kind == "on-demand feature view"):
        return
    tags = obj.tags or {}
    if tags.get("tier") not in TIERS:
        yield "tier-tag", f"tag tier must be one of {list(TIERS)}, got {tags.get('tier')!r}"
    allowed = (ON_DEMAND_SCHEDULE,) if kind == "on-demand feature view" else SCHEDULES
    if tags.get("schedule") not in allowed:
        yield "schedule-tag", f"tag schedule must be one of {list(allowed)}, got {tags.get('schedule')!r}"
    if kind == "stream feature view" and tags.get("schedule") != "stream":
        yield "schedule-tag", "a stream feature view must have schedule 'stream'"


@rule
def monitoring_tags(repo: LoadedRepo, kind: str, obj: Any) -> Iterator[tuple[str, str]]:
    if _is_view(kind):
        for problem in monitoring_tag_problems(obj):
            yield "monitoring-tags", problem


@rule
def shards_tag_is_a_count(repo: LoadedRepo, kind: str, obj: Any) -> Iterator[tuple[str, str]]:
    if _is_view(kind):
        try:
            shards_tag(obj)
        except ValueError as exc:
            yield "shards-tag", str(exc)


@rule
def versioned_feature_services(repo: LoadedRepo, kind: str, obj: Any) -> Iterator[tuple[str, str]]:
    if kind == "feature service" and not VERSIONED.match(obj.name):
        yield "versioned-service-name", f"name {obj.name!r} must end in a version such as _v1"


@rule
def sql_next_to_view(repo: LoadedRepo, kind: str, obj: Any) -> Iterator[tuple[str, str]]:
    if not _is_view(kind):
        return
    try:
        load_feature_sql(repo.root, obj.name).tree  # noqa: B018 - parsing is the check
    except FeatureSQLError as exc:
        yield "sql-athena", str(exc)


EXPECTATIONS_DIR = "feature_views"


def expectation_suite_path(view_name: str) -> str:
    """Where a view's expectation suite lives, relative to the feature repo."""
    return f"{EXPECTATIONS_DIR}/{view_name}.expectations.yaml"


@rule
def expectation_suite_next_to_batch_view(repo: LoadedRepo, kind: str, obj: Any) -> Iterator[tuple[str, str]]:
    """Batch data is validated before it reaches the offline and online stores, and every streamed micro-batch passes
    its view's expectations (``featurekit.quality.stream_gate``), so every batch and stream view needs a suite."""
    if kind not in ("feature view", "stream feature view"):
        return
    suite = expectation_suite_path(obj.name)
    if not (repo.root / suite).is_file():
        yield "expectation-suite", f"add {suite}: the view's data is validated against it before it is published"


@rule
def stream_view_declaration(repo: LoadedRepo, kind: str, obj: Any) -> Iterator[tuple[str, str]]:
    """A stream view's job is generated from its KafkaSource (topic, schema, rules) and its transform/aggregations,
    so everything the job needs must be declared and consistent (``featurekit.repo.streams``)."""
    if kind == "stream feature view":
        for problem in view_problems(repo, obj):
            yield problem.rule, problem.message
