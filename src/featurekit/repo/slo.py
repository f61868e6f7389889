"""Freshness SLOs: the ``freshness_slo`` tag of a feature view, a duration such as ``30h``, ``2h``, ``5m``.

The tag lives next to the view's definition, so the team that owns a feature owns how stale it may get; the
freshness check, the alert rules' labels, the breaking-change gate and the catalog all read it from here (the repo
layer: it is a rule about the definitions, below every job that reads it).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from featurekit.errors import FeaturekitError

SLO_TAG = "freshness_slo"
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


class InvalidSLOError(FeaturekitError, ValueError):
    """A ``freshness_slo`` tag is not a duration such as ``30h``, ``2h`` or ``5m``."""


def parse_duration(text: str, *, where: str = "duration") -> timedelta:
    """``"30h"`` -> 30 hours. Units: s, m, h, d, w; one number and one unit. The one parser of duration tags."""
    match = _DURATION.match(text or "")
    if not match:
        raise InvalidSLOError(f"{where}: {text!r} is not a duration like 30h, 2h, 5m, 90s or 2d")
    value = timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    if value <= timedelta(0):
        raise InvalidSLOError(f"{where}: {text!r} must be longer than zero")
    return value


def freshness_slo(view: Any) -> timedelta | None:
    """The view's freshness SLO, or ``None`` when it declares none (on-demand views, untagged views)."""
    text = (getattr(view, "tags", None) or {}).get(SLO_TAG)
    if text is None:
        return None
    return parse_duration(text, where=f"feature view {view.name!r} tag {SLO_TAG}")


def format_duration(value: timedelta | None) -> str:
    """A short human form: ``1d 6h``, ``2h 5m``, ``4m 10s``, ``-`` for ``None``."""
    if value is None:
        return "-"
    seconds = int(value.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{n}{u}" for n, u in parts if n][:2]
    return sign + (" ".join(shown) if shown else "0s")
