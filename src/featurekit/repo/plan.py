"""What an apply would change: a structured diff of the feature repo against one environment's registry.

Feast's own diff compares protos including creation timestamps, so re-applying an unchanged repo looks like an
update of every data source. The plan here compares definitions with timestamps and project names stripped, so an
unchanged repo plans to nothing (and apply is a no-op), and it spells changes the way a reviewer reads them: added,
changed and removed entities, sources, views and services, with fields, dtypes, ttl and tags one line each.
The same :class:`Plan` renders as text (terminal), Markdown (the sticky PR comment) and JSON (machines).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any, Literal

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
PLAN_COMMENT_MARKER = "<!-- featurekit-plan -->"
_STRIPPED_FIELDS = {"meta", "project", "created_timestamp", "last_updated_timestamp", "body"}
_DUMMY_ENTITY = "__dummy"


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
        lines = [f"plan for project {self.project} in {self.env} ({self.registry}): {self.summary}"]
        symbol = {"add": "+", "change": "~", "remove": "-"}
        for obj in self.objects:
            lines.append(f"{symbol[obj.action]} {obj.kind} {obj.name}")
            lines.extend(f"    {c}" for c in obj.changes)
        lines.extend(self._breaking_lines())
        return "\n".join(lines)

    def _breaking_lines(self) -> list[str]:
        if not self.breaking:
            return []
        state = "ALLOWED (--allow-breaking)" if self.allow_breaking else "BLOCKED"
        lines = [f"{len(self.breaking)} breaking change(s), {state}:"]
        lines.extend(f"  {b}" for b in self.breaking)
        if not self.allow_breaking:
            lines.append("  publish a new feature service version (_vN) instead, or allow with --allow-breaking")
        return lines

    def to_markdown(self) -> str:
        """The PR comment: starts with a hidden marker so CI updates one comment instead of adding more."""
        title = f"### featurekit plan: `{self.env}` (project `{self.project}`)"
        lines = [PLAN_COMMENT_MARKER, title, "", f"**{self.summary}** against `{self.registry}`", ""]
        if self.objects:
            lines += ["| | object | name | details |", "|---|---|---|---|"]
            icon = {"add": "🟢 add", "change": "🟡 change", "remove": "🔴 remove"}
            for obj in self.objects:
                details = "<br>".join(_md(str(c)) for c in obj.changes) or " "
                lines.append(f"| {icon[obj.action]} | {obj.kind} | `{obj.name}` | {details} |")
            lines.append("")
        if self.breaking:
            if self.allow_breaking:
                lines.append(f"#### ⚠️ {len(self.breaking)} breaking change(s), allowed by the `allow-breaking` label")
            else:
                lines.append(f"#### ❌ {len(self.breaking)} breaking change(s) block this PR")
            lines.append("")
            lines += [f"- **{b.rule}** {b.kind} `{b.name}`: {_md(b.message)}" for b in self.breaking]
            if not self.allow_breaking:
                lines += [
                    "",
                    "Publish a new feature service version (`_v2`) and keep the old one until its consumers move, "
                    "or add the `allow-breaking` label if every consumer is ready.",
                ]
        else:
            lines.append("✅ no breaking changes")
        return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# ---- the state on each side ----------------------------------------------------------------------------------


@dataclass
class RepoState:
    """The named objects of one project, by kind and name (from the registry, or from the repo)."""

    objects: dict[str, dict[str, Any]]

    @classmethod
    def from_registry(cls, registry: Any, project: str) -> RepoState:
        projects = [p for p in registry.list_projects() if p.name == project]
        return cls._build(
            project=projects,
            entities=registry.list_entities(project),
            sources=registry.list_data_sources(project),
            views=registry.list_feature_views(project),
            stream_views=registry.list_stream_feature_views(project),
            odfvs=registry.list_on_demand_feature_views(project),
            services=registry.list_feature_services(project),
        )

    @classmethod
    def from_contents(cls, contents: Any) -> RepoState:
        """The repo's objects as the registry will hold them (a proto round trip normalises Feast's inference)."""
        return cls._build(
            project=[_round_trip(o) for o in contents.projects],
            entities=[_round_trip(o) for o in contents.entities],
            sources=[_round_trip(o) for o in contents.data_sources],
            views=[_round_trip(o) for o in contents.feature_views],
            stream_views=[_round_trip(o) for o in contents.stream_feature_views],
            odfvs=[_round_trip(o) for o in contents.on_demand_feature_views],
            services=[_round_trip(o) for o in contents.feature_services],
        )

    @classmethod
    def _build(cls, **lists: Iterable[Any]) -> RepoState:
        kinds = {
            "project": "project",
            "entities": "entity",
            "sources": "data source",
            "views": "feature view",
            "stream_views": "stream feature view",
            "odfvs": "on-demand feature view",
            "services": "feature service",
        }
        objects: dict[str, dict[str, Any]] = {kind: {} for kind in KIND_ORDER}
        for key, items in lists.items():
            for obj in items:
                if obj.name and obj.name != _DUMMY_ENTITY:
                    objects[kinds[key]][obj.name] = obj
        return cls(objects)

    def of(self, kind: str) -> dict[str, Any]:
        return self.objects[kind]

    def views(self) -> dict[str, Any]:
        """Every view a feature service can reference (batch, stream and on-demand)."""
        return {**self.of("feature view"), **self.of("stream feature view"), **self.of("on-demand feature view")}


def _round_trip(obj: Any) -> Any:
    from feast.data_source import DataSource

    if isinstance(obj, DataSource):
        return DataSource.from_proto(obj.to_proto())
    return type(obj).from_proto(obj.to_proto())


def diff_states(before: RepoState, after: RepoState) -> list[ObjectChange]:
    """Added, changed and removed objects, in kind order then name order."""
    found: list[ObjectChange] = []
    for kind in KIND_ORDER:
        old, new = before.of(kind), after.of(kind)
        for name in sorted(new.keys() - old.keys()):
            found.append(ObjectChange(kind, name, "add", tuple(_changes({}, describe(new[name])))))
        for name in sorted(old.keys() - new.keys()):
            found.append(ObjectChange(kind, name, "remove", tuple(_changes(describe(old[name]), {}))))
        for name in sorted(old.keys() & new.keys()):
            if fingerprint(old[name]) == fingerprint(new[name]):
                continue
            changes = list(_changes(describe(old[name]), describe(new[name])))
            if not changes:
                fields = ", ".join(_spec_fields(old[name], new[name]))
                changes = [Change("definition", "as registered", f"differs in {fields}")]
            found.append(ObjectChange(kind, name, "change", tuple(changes)))
    return sorted(found, key=lambda o: o.sort_key)


def _changes(before: dict[str, str], after: dict[str, str]) -> Iterator[Change]:
    for key in sorted(before.keys() | after.keys(), key=_attribute_order):
        if before.get(key) != after.get(key):
            yield Change(key, before.get(key), after.get(key))


def _attribute_order(key: str) -> tuple[int, str]:
    head = key.split(" ", 1)[0].split(".", 1)[0]
    order = [
        "join_key",
        "value_type",
        "type",
        "entities",
        "feature",
        "input",
        "ttl",
        "source",
        "serves",
        "online",
        "tags",
    ]
    return (order.index(head) if head in order else len(order)), key


# ---- descriptions: the attributes a reviewer cares about ------------------------------------------------------


def describe(obj: Any) -> dict[str, str]:
    """Human-readable attributes of a Feast object; what the plan lists and compares line by line."""
    from feast import Entity, FeatureService, FeatureView
    from feast.data_source import DataSource
    from feast.on_demand_feature_view import OnDemandFeatureView

    attrs: dict[str, str] = {}
    if isinstance(obj, Entity):
        attrs["join_key"] = obj.join_key
        attrs["value_type"] = obj.value_type.name
    elif isinstance(obj, DataSource):
        attrs.update(_describe_source(obj))
    elif isinstance(obj, FeatureView):  # includes StreamFeatureView
        attrs["entities"] = ", ".join(sorted(obj.entities))
        for feature in view_features(obj):
            attrs[f"feature {feature.name}"] = str(feature.dtype)
        attrs["ttl"] = format_ttl(obj.ttl)
        attrs["online"] = str(obj.online).lower()
        if obj.batch_source is not None:
            attrs["source"] = obj.batch_source.name
        stream = getattr(obj, "stream_source", None)
        if stream is not None:
            attrs["source.stream"] = stream.name
    elif isinstance(obj, OnDemandFeatureView):
        for feature in obj.features:
            attrs[f"feature {feature.name}"] = str(feature.dtype)
        for projection in obj.source_feature_view_projections.values():
            for feature in projection.features:
                attrs[f"input {projection.name_to_use()}.{feature.name}"] = str(feature.dtype)
        for request in obj.source_request_sources.values():
            for f in request.schema:
                attrs[f"input {request.name}.{f.name}"] = str(f.dtype)
        attrs["mode"] = obj.mode
        attrs["transformation"] = _udf_digest(obj)
    elif isinstance(obj, FeatureService):
        for projection in obj.feature_view_projections:
            for feature in projection.features:
                attrs[f"serves {projection.name_to_use()}.{feature.name}"] = str(feature.dtype)
    if getattr(obj, "description", ""):
        attrs["description"] = obj.description
    if getattr(obj, "owner", ""):
        attrs["owner"] = obj.owner
    for key, value in sorted((getattr(obj, "tags", None) or {}).items()):
        attrs[f"tags.{key}"] = value
    return attrs


def view_features(view: Any) -> list[Any]:
    """A view's features without its join-key columns (which Feast lists as features of stream views)."""
    keys = {c.name for c in getattr(view, "entity_columns", None) or []}
    return [f for f in view.features if f.name not in keys]


def _describe_source(source: Any) -> dict[str, str]:
    attrs = {"type": type(source).__name__}
    for attribute in ("path", "table", "database"):
        value = getattr(source, attribute, None)
        if isinstance(value, str) and value:
            attrs[attribute] = value
    options = getattr(source, "kafka_options", None)
    if options is not None and getattr(options, "topic", None):
        attrs["topic"] = options.topic
    if getattr(source, "timestamp_field", ""):
        attrs["timestamp_field"] = source.timestamp_field
    batch = getattr(source, "batch_source", None)
    if batch is not None:
        attrs["source.batch"] = batch.name
    for f in getattr(source, "schema", None) or []:
        if hasattr(f, "dtype"):
            attrs[f"field {f.name}"] = str(f.dtype)
    return attrs


def _udf_digest(odfv: Any) -> str:
    transformation = odfv.feature_transformation
    text = getattr(transformation, "udf_string", "") or ""
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:12]


def format_ttl(ttl: timedelta | None) -> str:
    """``3d``, ``2h``, ``90m``; ``none`` for no expiry (Feast stores a missing ttl as 0)."""
    if ttl is None or ttl.total_seconds() <= 0:
        return "none"
    seconds = int(ttl.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# ---- fingerprints: equality of definitions, ignoring timestamps and the project ------------------------------


def fingerprint(obj: Any) -> bytes:
    """Deterministic bytes of an object's definition without timestamps, project names or pickled UDF bodies."""
    proto = obj.to_proto()
    _strip(proto)
    return proto.SerializeToString(deterministic=True)


def _strip(message: Any) -> None:
    from google.protobuf.message import Message

    for descriptor, value in list(message.ListFields()):
        if descriptor.name in _STRIPPED_FIELDS:
            message.ClearField(descriptor.name)
        elif descriptor.type == descriptor.TYPE_MESSAGE:
            if isinstance(value, Message):
                _strip(value)
            elif descriptor.message_type.GetOptions().map_entry:
                if descriptor.message_type.fields_by_name["value"].type == descriptor.TYPE_MESSAGE:
                    for key in value:
                        _strip(value[key])
            else:
                # Canonical order: Feast rebuilds some lists (stream view features) from sets.
                items = list(value)
                for item in items:
                    _strip(item)
                items.sort(key=lambda m: m.SerializeToString(deterministic=True))
                copies = [type(m)() for m in items]
                for copy, item in zip(copies, items, strict=True):
                    copy.CopyFrom(item)
                del value[:]
                value.extend(copies)


def _spec_fields(old: Any, new: Any) -> list[str]:
    a, b = old.to_proto(), new.to_proto()
    _strip(a)
    _strip(b)
    a, b = getattr(a, "spec", a), getattr(b, "spec", b)
    return sorted(d.name for d in a.DESCRIPTOR.fields if getattr(a, d.name) != getattr(b, d.name)) or ["spec"]
