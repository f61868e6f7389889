"""Feature view SQL: written once in the Athena (Trino) dialect, rendered for a data interval.

Each view's query sits next to its definition as ``feature_repo/feature_views/<view>.sql`` and uses the named
parameters ``:data_interval_start`` and ``:data_interval_end``. Rendering replaces them with timestamp literals in
the parsed tree (never by string formatting), and the same tree is printed for Athena or transpiled to DuckDB.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import cast

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from featurekit.errors import FeaturekitError
from featurekit.intervals import DataInterval

SOURCE_DIALECT = "athena"
PARAMETERS = ("data_interval_start", "data_interval_end")


class FeatureSQLError(FeaturekitError, ValueError):
    """A view's SQL is missing, does not parse in the Athena dialect, or uses unknown parameters."""


@dataclass(frozen=True)
class FeatureSQL:
    """One feature view's extraction query."""

    view: str
    path: Path
    text: str

    @cached_property
    def tree(self) -> exp.Query:
        try:
            parsed = sqlglot.parse(self.text, read=SOURCE_DIALECT)
        except ParseError as exc:
            raise FeatureSQLError(f"{self.path}: does not parse as Athena SQL: {exc}") from exc
        statements = [p for p in parsed if p is not None]
        if len(statements) != 1 or not isinstance(statements[0], exp.Query):
            raise FeatureSQLError(f"{self.path}: expected exactly one SELECT query, found {len(statements)}")
        unknown = {p.name for p in statements[0].find_all(exp.Placeholder)} - set(PARAMETERS)
        if unknown:
            raise FeatureSQLError(f"{self.path}: unknown parameters {sorted(unknown)}; allowed: {list(PARAMETERS)}")
        return statements[0]

    def render(self, interval: DataInterval) -> exp.Query:
        """The query with the interval bounds as ``TIMESTAMP`` literals (naive UTC, as the warehouse stores)."""
        values = {
            "data_interval_start": _timestamp_literal(interval.start.replace(tzinfo=None).isoformat(" ")),
            "data_interval_end": _timestamp_literal(interval.end.replace(tzinfo=None).isoformat(" ")),
        }
        return cast(exp.Query, exp.replace_placeholders(self.tree.copy(), **values))

    def athena(self, interval: DataInterval) -> str:
        return self.render(interval).sql(dialect="athena", pretty=True)

    def duckdb(self, interval: DataInterval) -> str:
        return self.render(interval).sql(dialect="duckdb", pretty=True)


def _timestamp_literal(value: str) -> exp.Expression:
    return exp.cast(exp.Literal.string(value), exp.DataType.build("timestamp"))


def sql_path(feature_repo: Path, view: str) -> Path:
    """Where a view's SQL lives: next to its definition."""
    return feature_repo / "feature_views" / f"{view}.sql"


def load_feature_sql(feature_repo: Path, view: str) -> FeatureSQL:
    path = sql_path(feature_repo, view)
    if not path.is_file():
        raise FeatureSQLError(f"feature view {view!r} has no SQL file: expected {path}")
    return FeatureSQL(view=view, path=path, text=path.read_text())
