"""Expectation suites as YAML next to each feature view: ``feature_repo/feature_views/<view>.expectations.yaml``.

The file is plain data so a data scientist edits it in the same pull request as the view and its SQL::

    view: orders_30d
    row_count:
      min: 1                     # an empty interval fails
      max: 10000000
      vs_previous: [0.8, 1.25]   # rows within 0.8x..1.25x of the previous interval's partition
      vs_previous_min_rows: 50   # the band applies from this many previous rows (default 50)
    expectations:
      - expect_column_values_to_not_be_null: {column: user_id}
      - expect_column_values_to_be_between: {column: order_count_30d, min_value: 0}

Every entry under ``expectations`` is a Great Expectations 1.x expectation by its snake-case type with its keyword
arguments, so any expectation GE ships can be used. ``row_count`` is the kit's part: GE has no notion of "the
previous interval", so the band is turned into a row-count expectation once the previous partition's size is known.
A band around a handful of rows is noise (seven users active in an hour after three the hour before is not an
outage), so it applies only from ``vs_previous_min_rows`` previous rows.
Parsing is strict and errors name the file, so a typo fails the DAG's tests, not a 3 a.m. run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from featurekit.errors import FeaturekitError

SUFFIX = ".expectations.yaml"


class SuiteError(FeaturekitError, ValueError):
    """A view's expectation file is missing or malformed; the message names the file and the problem."""


@dataclass(frozen=True)
class RowCountRule:
    """Absolute bounds plus an optional band relative to the previous interval's row count."""

    min: int = 1
    max: int | None = None
    vs_previous: tuple[float, float] | None = None
    vs_previous_min_rows: int = 50

    def bounds(self, previous_rows: int | None) -> tuple[int, int | None]:
        """``(min, max)`` rows for this batch, tightened by the band when the previous count is known."""
        low, high = self.min, self.max
        if self.vs_previous is not None and previous_rows and previous_rows >= self.vs_previous_min_rows:
            low = max(low, int(previous_rows * self.vs_previous[0]))
            banded = int(previous_rows * self.vs_previous[1]) + 1
            high = banded if high is None else min(high, banded)
        return low, high


@dataclass(frozen=True)
class SuiteSpec:
    """One view's suite as declared in YAML."""

    view: str
    path: Path
    row_count: RowCountRule
    expectations: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    fingerprint: str = ""  # of the parsed content (comments and formatting do not count): validation records name it

    def columns(self) -> set[str]:
        """Every column an expectation names (for checks against the view's schema)."""
        names: set[str] = set()
        for _, kwargs in self.expectations:
            if "column" in kwargs:
                names.add(kwargs["column"])
            names.update(kwargs.get("column_list", []))
        return names


def suite_path(feature_repo: Path, view: str) -> Path:
    return feature_repo / "feature_views" / f"{view}{SUFFIX}"


def load_suite(feature_repo: Path, view: str) -> SuiteSpec:
    """Read and check ``view``'s expectation file."""
    path = suite_path(feature_repo, view)
    if not path.is_file():
        raise SuiteError(f"feature view {view!r} has no expectation suite: expected {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise SuiteError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise SuiteError(f"{path}: expected a mapping with keys view, row_count, expectations")
    unknown = set(data) - {"view", "row_count", "expectations"}
    if unknown:
        raise SuiteError(f"{path}: unknown keys {sorted(unknown)}; allowed: view, row_count, expectations")
    if data.get("view") != view:
        raise SuiteError(f"{path}: declares view {data.get('view')!r}, expected {view!r}")
    return SuiteSpec(
        view=view,
        path=path,
        row_count=_row_count(path, data.get("row_count") or {}),
        expectations=[_expectation(path, i, entry) for i, entry in enumerate(data.get("expectations") or [])],
        fingerprint=suite_fingerprint(data),
    )


def suite_fingerprint(data: dict[str, Any]) -> str:
    """``sha256:<12 hex>`` of the suite's canonical JSON: a record made under another suite is told apart."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:12]


def _row_count(path: Path, data: Any) -> RowCountRule:
    if not isinstance(data, dict) or set(data) - {"min", "max", "vs_previous", "vs_previous_min_rows"}:
        raise SuiteError(
            f"{path}: row_count takes min, max, vs_previous: [low, high] and vs_previous_min_rows; got {data!r}"
        )
    band = data.get("vs_previous")
    if band is not None:
        if not (isinstance(band, list) and len(band) == 2 and 0 <= float(band[0]) <= 1 <= float(band[1])):
            raise SuiteError(f"{path}: row_count.vs_previous must be [low <= 1, high >= 1]; got {band!r}")
        band = (float(band[0]), float(band[1]))
    minimum, maximum = int(data.get("min", 1)), data.get("max")
    from_rows = data.get("vs_previous_min_rows", RowCountRule.vs_previous_min_rows)
    if not isinstance(from_rows, int) or isinstance(from_rows, bool) or from_rows < 1:
        raise SuiteError(f"{path}: row_count.vs_previous_min_rows must be a positive integer; got {from_rows!r}")
    return RowCountRule(
        min=minimum, max=None if maximum is None else int(maximum), vs_previous=band, vs_previous_min_rows=from_rows
    )


def _expectation(path: Path, index: int, entry: Any) -> tuple[str, dict[str, Any]]:
    if not (isinstance(entry, dict) and len(entry) == 1):
        raise SuiteError(f"{path}: expectations[{index}] must be one `expect_...: {{kwargs}}` mapping, got {entry!r}")
    ((name, kwargs),) = entry.items()
    if not str(name).startswith("expect_") or not isinstance(kwargs, dict):
        raise SuiteError(f"{path}: expectations[{index}]: {name!r} is not `expect_<name>: {{keyword arguments}}`")
    return str(name), dict(kwargs)
