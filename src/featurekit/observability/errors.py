"""Errors of the operations commands (``freshness``, ``consistency``, ``catalog``, metric export).

Each names what could not be reached or found and where, so an on-call engineer can act on the message alone; the
CLI prints them without a traceback (they derive from :class:`featurekit.errors.FeaturekitError`; the ones about
something unreachable are transient, so a DAG task retries them).
"""

from __future__ import annotations

from featurekit.errors import FeaturekitError, TransientError


class OpsError(FeaturekitError, RuntimeError):
    """Base class of the operations commands' expected failures."""


class RegistryUnavailableError(OpsError, TransientError):
    """The Feast registry could not be read (missing file, unreachable bucket, no objects for the project)."""


class OnlineStoreUnavailableError(OpsError, TransientError):
    """The online store could not be read for a feature view (Redis unreachable, tier not configured)."""


class UnknownFeatureViewError(OpsError, KeyError):
    """A feature view name given on the command line is not in the registry."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class MetricsExportError(OpsError, TransientError):
    """Metrics could not be pushed to the Pushgateway or written to the textfile directory."""
