"""Base models every settings section and every backend's own config builds on.

They live at the bottom of the config package so that a backend module (``featurekit.offline.parquet``, ...) can
define its config beside its implementation without importing the assembled :class:`~featurekit.config.Settings`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Unknown keys fail loudly: a typo in an environment file is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class AthenaConnection(StrictModel):
    """Where Athena queries run: a Glue database, a workgroup and its result location."""

    database: str
    workgroup: str
    results_location: str
    region: str
