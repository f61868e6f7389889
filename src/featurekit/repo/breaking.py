"""The breaking-change gate: changes that would break a model already reading a feature service.

A feature service is a contract with the models that read it, so anything it serves is frozen for that version:

* ``feature-removed``: a served feature disappears (its view or the feature is deleted, or renamed, or the service
  stops serving it), or the service itself is deleted;
* ``dtype-changed``: a served feature changes type;
* ``entity-key-changed``: an entity changes its join key or value type (every stored row is keyed by it);
* ``ttl-below-need``: a served view's ttl shrinks below what the service needs: values must outlive the gap to the
  next refresh (the view's ``freshness_slo`` tag and schedule) and the service's own ``min_ttl`` tag, or the model
  reads nulls between refreshes.

The fix is a new service version (``<service>_v2`` next to ``<service>_v1``); when every consumer is ready the PR
label ``allow-breaking`` (CLI ``--allow-breaking``) lets the change through. Each finding says what and why.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from featurekit.repo.plan import BreakingChange, RepoState, format_ttl, view_features
from featurekit.repo.slo import parse_duration

MIN_TTL_TAG = "min_ttl"
FRESHNESS_TAG = "freshness_slo"
SCHEDULE_PERIOD = {"hourly": timedelta(hours=1), "daily": timedelta(days=1)}


def breaking_changes(before: RepoState, after: RepoState) -> list[BreakingChange]:
    """Every breaking change from ``before`` (the registry) to ``after`` (the repo), sorted."""
    found = [*_service_changes(before, after), *_entity_changes(before, after)]
    return sorted(set(found), key=lambda b: (b.kind, b.name, b.rule, b.message))


def _served(service: Any) -> Iterator[tuple[str, str, str]]:
    """``(view, feature, dtype)`` for every feature a service serves."""
    for projection in service.feature_view_projections:
        for feature in projection.features:
            yield projection.name, feature.name, str(feature.dtype)


def _features(view: Any) -> dict[str, str]:
    return {f.name: str(f.dtype) for f in view_features(view)}


def _service_changes(before: RepoState, after: RepoState) -> Iterator[BreakingChange]:
    new_views = after.views()
    new_services = after.of("feature service")
    for name, service in before.of("feature service").items():
        kind = "feature service"
        if name not in new_services:
            yield BreakingChange(
                "feature-removed", kind, name, "the feature service is deleted while models may still read it"
            )
            continue
        still_served = {(v, f) for v, f, _ in _served(new_services[name])}
        ttl_checked: set[str] = set()
        for view_name, feature, dtype in _served(service):
            ref = f"{view_name}.{feature}"
            view = new_views.get(view_name)
            if view is None:
                yield BreakingChange(
                    "feature-removed", kind, name, f"serves {ref}, but feature view {view_name!r} is deleted"
                )
                continue
            features = _features(view)
            if feature not in features:
                old_view = before.views().get(view_name)
                added = [f for f, t in features.items() if t == dtype and old_view and f not in _features(old_view)]
                hint = f" (renamed to {', '.join(repr(a) for a in added)}?)" if added else ""
                yield BreakingChange(
                    "feature-removed", kind, name, f"serves {ref}, which is removed from the view{hint}"
                )
                continue
            if features[feature] != dtype:
                yield BreakingChange(
                    "dtype-changed", kind, name, f"serves {ref} as {dtype}, which changes to {features[feature]}"
                )
            if (view_name, feature) not in still_served:
                yield BreakingChange("feature-removed", kind, name, f"stops serving {ref}")
            if view_name not in ttl_checked:
                ttl_checked.add(view_name)
                yield from _ttl_change(name, service, before.views().get(view_name), view)


def _ttl_change(service_name: str, service: Any, old_view: Any, new_view: Any) -> Iterator[BreakingChange]:
    old_ttl, new_ttl = _ttl(old_view), _ttl(new_view)
    if old_view is None or new_ttl is None or (old_ttl is not None and new_ttl >= old_ttl):
        return
    need, reasons = ttl_need(new_view, service)
    if new_ttl < need:
        yield BreakingChange(
            "ttl-below-need",
            "feature service",
            service_name,
            f"reads {new_view.name}, whose ttl shrinks from {format_ttl(old_ttl)} to {format_ttl(new_ttl)}, below the "
            f"{format_ttl(need)} it needs ({'; '.join(reasons)})",
        )


def _ttl(view: Any) -> timedelta | None:
    """A view's ttl; None for views without one (on-demand) and for 'never expires' (0)."""
    ttl = getattr(view, "ttl", None)
    if ttl is None or ttl.total_seconds() <= 0:
        return None
    return ttl


def ttl_need(view: Any, service: Any) -> tuple[timedelta, list[str]]:
    """The shortest ttl at which ``service`` still reads ``view`` between refreshes, and why."""
    tags = view.tags or {}
    needs: list[tuple[timedelta, str]] = []
    if FRESHNESS_TAG in tags:
        needs.append((parse_duration(tags[FRESHNESS_TAG]), f"{FRESHNESS_TAG} {tags[FRESHNESS_TAG]}"))
    period = SCHEDULE_PERIOD.get(tags.get("schedule", ""))
    if period is not None:
        needs.append((period, f"{tags['schedule']} schedule"))
    service_tags = service.tags or {}
    if MIN_TTL_TAG in service_tags:
        needs.append(
            (parse_duration(service_tags[MIN_TTL_TAG]), f"{service.name} {MIN_TTL_TAG} {service_tags[MIN_TTL_TAG]}")
        )
    if not needs:
        return timedelta(0), []
    longest = max(n for n, _ in needs)
    return longest, [reason for n, reason in needs if n == longest]


def _entity_changes(before: RepoState, after: RepoState) -> Iterator[BreakingChange]:
    new_entities = after.of("entity")
    for name, entity in before.of("entity").items():
        new = new_entities.get(name)
        if new is None:
            continue
        if new.join_key != entity.join_key:
            yield BreakingChange(
                "entity-key-changed",
                "entity",
                name,
                f"join key changes from {entity.join_key!r} to {new.join_key!r}; every stored row is keyed by it",
            )
        if new.value_type != entity.value_type:
            yield BreakingChange(
                "entity-key-changed",
                "entity",
                name,
                f"join key type changes from {entity.value_type.name} to {new.value_type.name}; "
                "every stored row is keyed by it",
            )
