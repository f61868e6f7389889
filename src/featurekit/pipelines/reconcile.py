"""Reconcile the online store with the registry: delete what the registry no longer has, vacuum what it has.

CI writes registries only: it runs on hosted runners, and the online store (ElastiCache) is private to the VPC. So
when an apply removes a view, or a closed pull request's project ``<project>_pr<N>`` is torn down, the rows stay in
Redis until this job, running in the VPC (the ``featurekit_maintenance`` DAG), deletes them:

* **Orphans.** Every bucket key of the store is ``fk`` + a 4-byte view id (a hash of project and view name) + a
  3-byte bucket, on a Redis Cluster tier with a slot hash tag between ``fk`` and the id (see
  :mod:`featurekit.online_store.keyspace`). The job lists the ids of every feature view and stream feature view of
  every project in the registry, SCANs each tier for ``fk*`` keys, and UNLINKs the keys whose id the registry does
  not have. Keys not shaped like the store's (other length, other prefix) are never touched. Keys of the other
  layout than the tier's (standalone-layout keys on a cluster tier, written before the cluster layout existed) are
  never read again, so they are deleted the same way (``stale_layout_keys``); re-materialize such a tier first.
  The registry is read again after the scan, and an id that appeared in between (an apply that raced the scan) is
  kept: rows are only written for views the registry already has, so no live view loses a row.
* **Bounded.** At most ``max_keys`` orphan keys are deleted per run; the rest is reported (``remaining``) and
  deleted by the next run. A run that finds nothing deletes nothing: the job is idempotent.
* **Vacuum.** Then the store's own :meth:`~featurekit.online_store.store.TieredRedisOnlineStore.vacuum` deletes the
  rows past their view's ttl from the buckets of every registered view (today's only caller of it).

Contract: one online store belongs to one registry (one environment). Rows of a project that is in no registry the
job reads are orphans by definition.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from featurekit.config.settings import Settings
from featurekit.online_store.keyspace import CLUSTER_KEY_LENGTH, KEY_PREFIX, view_id, view_id_of_key

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

DEFAULT_MAX_KEYS = 100_000


@dataclass
class ReconcileResult:
    """What one run found and did; ``to_dict`` is what the DAG task returns (and logs)."""

    registered_views: int
    keys_scanned: int = 0
    orphan_ids: set[bytes] = field(default_factory=set)
    stale_layout_keys: int = 0  # keys of a registered view in the other key layout than their tier's
    keys_deleted: int = 0
    remaining: int = 0  # orphan keys left for the next run (over max_keys)
    vacuumed: dict[str, int] = field(default_factory=dict)  # "<project>/<view>" -> expired rows deleted

    def to_dict(self) -> dict[str, Any]:
        return {
            "registered_views": self.registered_views,
            "keys_scanned": self.keys_scanned,
            "orphan_views": sorted(i.hex() for i in self.orphan_ids),
            "stale_layout_keys": self.stale_layout_keys,
            "keys_deleted": self.keys_deleted,
            "remaining": self.remaining,
            "vacuumed": dict(sorted(self.vacuumed.items())),
        }


def registered_views(settings: Settings) -> dict[bytes, tuple[str, Any]]:
    """Every online view of every project in the environment's registry, by view id: ``{id: (project, view)}``."""
    from featurekit.repo.feast_config import feature_store

    registry = feature_store(settings).registry
    proto = registry.proto()
    projects = {fv.spec.project for fv in proto.feature_views} | {sv.spec.project for sv in proto.stream_feature_views}
    found: dict[bytes, tuple[str, Any]] = {}
    for project in sorted(projects):
        views = [
            *registry.list_feature_views(project, allow_cache=False),
            *registry.list_stream_feature_views(project, allow_cache=False),
        ]
        for view in views:
            found[view_id(project, view.name)] = (project, view)
    return found


def _tiers(settings: Settings, store: Any) -> list[Any]:
    """The store's tiers, one per distinct Redis (hot and warm may be the same server, e.g. locally)."""
    from featurekit.repo.feast_config import repo_config

    store_config = store.store_config(repo_config(settings))
    tiers, seen = [], set()
    for name in sorted(store_config.tiers):
        tier = store.tier(store_config, name)
        where = (tier.settings.host, tier.settings.port, tier.settings.db)
        if where not in seen:
            seen.add(where)
            tiers.append(tier)
    return tiers


def reconcile_online_store(
    settings: Settings, *, max_keys: int = DEFAULT_MAX_KEYS, vacuum: bool = True
) -> ReconcileResult:
    """Delete the online rows of views and projects the registry no longer has (at most ``max_keys`` keys), then
    vacuum the expired rows of the views it has. Safe to run at any time and as often as wanted."""
    from featurekit.online_store.store import TieredRedisOnlineStore
    from featurekit.repo.feast_config import repo_config

    if max_keys < 1:
        raise ValueError(f"max_keys must be at least 1, got {max_keys}")
    known = registered_views(settings)
    result = ReconcileResult(registered_views=len(known))
    store = TieredRedisOnlineStore()
    try:
        candidates: dict[Any, list[bytes]] = {}
        for tier in _tiers(settings, store):
            keys: set[bytes] = set()
            for key in tier.scan_keys(KEY_PREFIX + b"*"):
                result.keys_scanned += 1
                vid = view_id_of_key(key)
                if vid is not None and (vid not in known or _stale_layout(tier, key)):
                    keys.add(key)
            candidates[tier] = sorted(keys)
        known_now = known
        if any(candidates.values()):
            # A view applied while we scanned is in the registry now: its keys are not orphans.
            known_now = registered_views(settings)
            candidates = {
                t: [k for k in found if _stale_layout(t, k) or view_id_of_key(k) not in known_now]
                for t, found in candidates.items()
            }
        budget = max_keys
        for tier, found in candidates.items():
            chosen, rest = found[:budget], found[budget:]
            budget -= len(chosen)
            result.remaining += len(rest)
            for key in found:
                vid = view_id_of_key(key)
                if vid in known_now:  # a live view's key, chosen for its layout only
                    result.stale_layout_keys += 1
                elif vid is not None:
                    result.orphan_ids.add(vid)
            result.keys_deleted += _unlink(tier, chosen)
        if vacuum:
            for project, view in known.values():
                config = repo_config(settings.model_copy(update={"project": project}))
                result.vacuumed[f"{project}/{view.name}"] = store.vacuum(config, view)
    finally:
        store.close()
    _record_metrics(result)
    log.info("online store reconciled: %s", result.to_dict())
    return result


def _stale_layout(tier: Any, key: bytes) -> bool:
    """A key in the other layout than its tier's: the store never reads it (``keyspace.py``)."""
    return (len(key) == CLUSTER_KEY_LENGTH) != bool(tier.settings.cluster)


def _unlink(tier: Any, keys: list[bytes]) -> int:
    from featurekit.online_store.errors import OnlineStoreError

    try:
        return int(tier.delete(keys))
    except OnlineStoreError as exc:
        raise OnlineStoreError(f"deleting orphan keys on {tier.settings.describe()}: {exc}") from exc


def _record_metrics(result: ReconcileResult) -> None:
    import time

    from featurekit.metrics import (
        RECONCILE_KEYS_DELETED_TOTAL,
        RECONCILE_KEYS_REMAINING,
        RECONCILE_LAST_SUCCESS,
        RECONCILE_ORPHAN_VIEWS,
        VACUUM_ROWS_DELETED_TOTAL,
    )

    RECONCILE_KEYS_DELETED_TOTAL.inc(result.keys_deleted)
    RECONCILE_KEYS_REMAINING.set(result.remaining)
    RECONCILE_ORPHAN_VIEWS.set(len(result.orphan_ids))
    for name, rows in result.vacuumed.items():
        VACUUM_ROWS_DELETED_TOTAL.labels(feature_view=name).inc(rows)
    RECONCILE_LAST_SUCCESS.set(time.time())
