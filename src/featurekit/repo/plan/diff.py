"""The diff behind a plan: each side's objects (registry or repo), compared with timestamps and project stripped.

Feast's own diff compares protos including creation timestamps; here an unchanged repo diffs to nothing, and each
object is described attribute by attribute (fields, dtypes, ttl, tags, sources) the way a reviewer reads it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from featurekit.repo.plan.model import KIND_ORDER, Change, ObjectChange

_STRIPPED_FIELDS = {"meta", "project", "created_timestamp", "last_updated_timestamp", "body"}
_DUMMY_ENTITY = "__dummy"


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
