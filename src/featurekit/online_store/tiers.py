"""Which :class:`~featurekit.online_store.tier.TierClient` a tier gets: the one place that reads ``cluster``.

Kept apart from the protocol module so the two implementations can import the protocol's types without a cycle.
"""

from __future__ import annotations

from featurekit.online_store.cluster import ClusterTier
from featurekit.online_store.connection import ConnectionSettings
from featurekit.online_store.standalone import StandaloneTier
from featurekit.online_store.tier import TierClient


def open_tier(settings: ConnectionSettings) -> TierClient:
    """The tier client for ``settings``: Redis Cluster when the tier's config says ``cluster: true``."""
    if settings.cluster:
        return ClusterTier(settings)
    return StandaloneTier(settings)


__all__ = ["open_tier"]
