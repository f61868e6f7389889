"""Errors raised by the tiered Redis online store and the fast read path.

Each error names the thing that is wrong (tier, feature view, feature reference, column, key) so that an operator
can act on the message alone, without reading a stack trace.
"""

from __future__ import annotations

from featurekit.errors import FeaturekitError, TransientError


class OnlineStoreError(FeaturekitError, RuntimeError):
    """Base class of every featurekit online-store error."""


class TierNotConfiguredError(OnlineStoreError):
    """A tier is referenced (by a view's tag or as the default) but has no Redis URL."""

    def __init__(self, tier: str, known: list[str] | None = None) -> None:
        hint = f" (configured tiers: {', '.join(sorted(known))})" if known is not None else ""
        super().__init__(
            f"online store tier {tier!r} has no Redis URL: set online_store.tiers.{tier}.url in "
            f"feature_store.yaml (or FEATUREKIT_REDIS_URL for the local environment){hint}"
        )
        self.tier = tier


class RedisUnavailableError(OnlineStoreError, TransientError):
    """Redis could not be reached or the connection broke during a command."""


class UnsupportedFeatureTypeError(OnlineStoreError):
    """A feature's Feast type has no packed encoding."""


class SchemaMismatchError(OnlineStoreError):
    """Input data does not match the feature view: a missing or mistyped column or entity key."""


class RowDecodeError(OnlineStoreError):
    """Bytes stored under a featurekit key are not a row of this feature view (corrupt, foreign, old schema)."""


class ServingRequestError(FeaturekitError, ValueError):
    """A read request cannot be answered as asked (a caller mistake, HTTP 400); the message says what to change.

    Raised by both read paths over this store (:mod:`featurekit.serving` and Feast's ``get_online_features``),
    which share the request plan and entity encoding in :mod:`featurekit.online_store.read`."""


class FeatureReferenceError(ServingRequestError):
    """A feature reference, feature view or feature service does not exist in the registry."""


class EntityRowsError(ServingRequestError):
    """Entity rows lack a join key or request-data column, have uneven lengths, or a key of the wrong type."""
