"""The kit's expected failures: one base class, each error carrying a message that names what is wrong and where.

Every error the kit raises on purpose (bad configuration, a failing data-quality suite, an unreachable service)
derives from :class:`FeaturekitError`. The CLI prints these without a traceback (anything else is a bug and keeps
its traceback); the generated DAGs fail a task at once when ``permanent`` says a retry cannot fix it, and let
Airflow retry otherwise. Because the marker travels with the class, no list of error types is kept by hand
anywhere: a new error picks its base and its ``permanent`` value where it is defined.

This module is a leaf of the layer order (docs/architecture.md): it imports nothing from featurekit, so every
layer may derive its errors from it.
"""

from __future__ import annotations

from typing import ClassVar


class FeaturekitError(Exception):
    """An expected failure whose message names what is wrong and where.

    ``permanent`` is ``True`` when running the same step again cannot succeed (bad SQL, schema drift, a failing
    suite, a configuration mistake) and ``False`` when the cause may go away by itself (a service not reachable
    yet, a concurrent writer); orchestration fails permanent errors at once and retries the others.
    """

    permanent: ClassVar[bool] = True


class TransientError(FeaturekitError):
    """An expected failure that a later retry may not meet (a service down, throttled or busy)."""

    permanent: ClassVar[bool] = False
