"""The streaming jobs' expected failures (printed by the CLI as one message, no traceback)."""

from __future__ import annotations

from featurekit.errors import FeaturekitError


class StreamingError(FeaturekitError, RuntimeError):
    """Base class: the message names the job, query, topic or option that is wrong."""


class StreamConfigError(StreamingError, ValueError):
    """An unknown job, an invalid stream view declaration or streaming option; the message says what is valid."""


class DeadLetterError(StreamingError):
    """Dead letters could not be delivered or read; the micro-batch fails and is retried from its checkpoint."""
