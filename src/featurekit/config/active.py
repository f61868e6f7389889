"""The settings the feature repo is being loaded for.

``feature_repo/data_sources.py`` asks :func:`current_settings` where its data lives. The kit's loader activates the
exact settings it was given (tests pass temporary directories); a plain ``feast`` CLI run falls back to
``FEATUREKIT_ENV``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from featurekit.config.loader import load_settings
from featurekit.config.settings import Settings

_ACTIVE: ContextVar[Settings | None] = ContextVar("featurekit_active_settings", default=None)


def current_settings() -> Settings:
    """The activated settings, or the environment's settings when none are active."""
    return _ACTIVE.get() or load_settings()


@contextmanager
def use_settings(settings: Settings) -> Iterator[Settings]:
    token = _ACTIVE.set(settings)
    try:
        yield settings
    finally:
        _ACTIVE.reset(token)
