"""The quality gate for streamed rows: a view's expectation suite as vectorized Arrow checks, per micro-batch.

Running Great Expectations on every micro-batch costs a context, a validator and a pandas copy per batch (hundreds
of milliseconds); a stream must keep up with thousands of events a second. The suite's *row-level* expectations are
therefore translated into ``pyarrow.compute`` expressions over the whole batch at once, each keeping the name it
has in the suite, so a rejected row says which expectation it broke:

============================================================  ==============================================
expectation                                                   row fails when
============================================================  ==============================================
``expect_column_values_to_not_be_null``                       the value is null
``expect_column_values_to_be_between``                        outside ``[min_value, max_value]`` (``strict_*``)
``expect_column_values_to_be_in_set``                         not in ``value_set``
``expect_column_values_to_not_be_in_set``                     in ``value_set``
``expect_column_values_to_match_regex``                       does not match ``regex`` (search, like GX)
``expect_column_values_to_not_match_regex``                   matches ``regex``
``expect_column_pair_values_a_to_be_greater_than_b``          ``column_A < column_B`` (``<=`` unless or_equal)
============================================================  ==============================================

Like GX, a null value passes every expectation except ``not_be_null``. Table-level expectations (row counts, sums,
uniqueness across the batch) and types (the sink casts rows to the view's schema, which fails loudly) have no
per-row meaning; they are listed in :attr:`StreamGate.not_per_row` and left to the batch gate. A check whose columns
the batch does not have (a feature derived later in the transform) is skipped for that batch, so the same gate can
run on raw events and again on the view's rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pyarrow as pa
import pyarrow.compute as pc

from featurekit.errors import FeaturekitError
from featurekit.metrics import STREAM_EXPECTATION_FAILURES_TOTAL, STREAM_QUALITY_STOPS_TOTAL
from featurekit.quality.suites import SuiteSpec, suite_path

EXPECTATION_COLUMN = "expectation"
DEAD_LETTER_REASON = "expectation"  # the rule name a rejected record carries in the dead-letter topic


class StreamQualityError(FeaturekitError, RuntimeError):
    """A micro-batch's share of rows failing the view's expectations crossed the configured threshold."""


Predicate = Callable[[pa.Table], pa.ChunkedArray]  # True where the row FAILS


@dataclass(frozen=True)
class RowCheck:
    """One row-level expectation: its readable name (type and arguments), the columns it reads, its predicate."""

    name: str
    columns: tuple[str, ...]
    failing: Predicate

    @property
    def label(self) -> str:
        """Short metric label: ``<expectation>:<columns>``."""
        return f"{self.name.split('(', 1)[0]}:{','.join(self.columns)}"

    def applies_to(self, table: pa.Table) -> bool:
        return all(c in table.column_names for c in self.columns)


@dataclass
class GateResult:
    """One batch split into rows that passed every applicable check and rows that failed at least one."""

    good: pa.Table
    bad: pa.Table  # the failing rows, plus EXPECTATION_COLUMN: the first failed expectation's name
    failures: Counter[str] = field(default_factory=Counter)  # expectation name -> rows failing it
    labels: Counter[str] = field(default_factory=Counter)  # the same by metric label
    checked: int = 0

    @property
    def failure_rate(self) -> float:
        return self.bad.num_rows / self.checked if self.checked else 0.0


@dataclass(frozen=True)
class StreamGate:
    view: str
    checks: tuple[RowCheck, ...]
    not_per_row: tuple[str, ...] = ()

    @classmethod
    def from_suite(cls, spec: SuiteSpec) -> StreamGate:
        checks, skipped = [], []
        for expectation, kwargs in spec.expectations:
            check = _compile(expectation, kwargs)
            if check is None:
                skipped.append(expectation)
            else:
                checks.append(check)
        return cls(view=spec.view, checks=tuple(checks), not_per_row=tuple(skipped))

    def split(self, table: pa.Table) -> GateResult:
        """Good and bad rows of ``table`` (one vectorized pass per applicable check)."""
        failures: Counter[str] = Counter()
        labels: Counter[str] = Counter()
        first: pa.Array | None = None  # index of the first failing check per row (null: none failed)
        for index, check in enumerate(self.checks):
            if table.num_rows == 0 or not check.applies_to(table):
                continue
            failing = pc.fill_null(check.failing(table), False)
            count = pc.sum(failing).as_py() or 0
            if not count:
                continue
            failures[check.name] += count
            labels[check.label] += count
            mark = pc.if_else(failing, pa.scalar(index, pa.int32()), pa.scalar(None, pa.int32()))
            first = mark if first is None else pc.coalesce(first, mark)
        if first is None:
            return GateResult(table, _with_names(table.slice(0, 0), []), failures, labels, table.num_rows)
        bad_mask = pc.is_valid(first)
        bad = table.filter(bad_mask)
        names = [self.checks[i].name for i in pc.drop_null(first).to_pylist()]
        good = table.filter(pc.invert(bad_mask))
        return GateResult(good, _with_names(bad, names), failures, labels, table.num_rows)


def load_stream_gate(feature_repo: Any, view: str) -> StreamGate:
    """The gate of ``view`` from its expectation file (a missing or malformed suite raises ``SuiteError``)."""
    from featurekit.quality.suites import load_suite

    return StreamGate.from_suite(load_suite(feature_repo, view))


class ViewGates:
    """The row-level gates of the views under one feature repo, each loaded once per version of its suite file.

    ``required``: a view without a suite is an error (:class:`SuiteError` naming the expected file) for the kit's
    own repo, where every view has one; a bare Feast repo served with ``--repo`` gates only the views that have one.
    """

    def __init__(self, feature_repo: Path, *, required: bool) -> None:
        self.feature_repo = feature_repo
        self.required = required
        self._cache: dict[str, tuple[int, StreamGate]] = {}

    def for_view(self, view: str) -> StreamGate | None:
        try:
            version = suite_path(self.feature_repo, view).stat().st_mtime_ns
        except FileNotFoundError:
            if self.required:
                return load_stream_gate(self.feature_repo, view)  # raises SuiteError naming the file
            return None
        cached = self._cache.get(view)
        if cached is None or cached[0] != version:
            cached = (version, load_stream_gate(self.feature_repo, view))
            self._cache[view] = cached
        return cached[1]


def gate_batch(gate: StreamGate, table: pa.Table, *, where: str, max_failure_rate: float, min_rows: int) -> GateResult:
    """Split one micro-batch, count failures per expectation, and stop (:class:`StreamQualityError`) when the
    failure rate crosses ``max_failure_rate`` on a batch of at least ``min_rows`` rows: nothing of that batch is
    written or dead-lettered, and the query fails with this message instead of flooding the online store."""
    result = gate.split(table)
    for label, n in result.labels.items():
        STREAM_EXPECTATION_FAILURES_TOTAL.labels(gate.view, label).inc(n)
    if result.checked >= min_rows and result.failure_rate > max_failure_rate:
        STREAM_QUALITY_STOPS_TOTAL.labels(gate.view).inc()
        worst = ", ".join(f"{name}: {n:,} rows" for name, n in result.failures.most_common(3))
        raise StreamQualityError(
            f"{where}: {result.bad.num_rows:,} of {result.checked:,} rows ({result.failure_rate:.1%}) failed the "
            f"expectations of {gate.view}, above quality.stream_max_failure_rate={max_failure_rate:.1%}; query "
            f"stopped, nothing of this batch written. Failing: {worst}. Fix the producer (or the suite, in a "
            "reviewed PR), then restart: the batch is re-read from the checkpoint"
        )
    return result


def as_dead_letters(bad: pa.Table, event_fields: list[str]) -> pa.Table:
    """Rejected events as dead letters: ``error`` = ``expectation: <the expectation it failed>`` (the DLQ header).

    The parse step keeps the original bytes only of malformed records (valid events drop them to stay fast), so a
    rejected event's value is re-encoded from its parsed ``event_fields`` (same fields, ISO-8601 timestamps):
    after a reviewed change of the suite, ``featurekit stream replay-dlq --reason expectation`` re-sends it.
    """
    import orjson

    reasons = pc.binary_join_element_wise(DEAD_LETTER_REASON + ": ", bad.column(EXPECTATION_COLUMN), "")
    values = [
        orjson.dumps({k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items()})
        for row in bad.select(event_fields).to_pylist()
    ]
    letters = bad.drop_columns([EXPECTATION_COLUMN])
    letters = letters.set_column(letters.column_names.index("value"), "value", pa.array(values, pa.binary()))
    return letters.set_column(letters.column_names.index("error"), "error", reasons.cast(pa.string()))


def _with_names(table: pa.Table, names: list[str]) -> pa.Table:
    return table.append_column(EXPECTATION_COLUMN, pa.array(names, pa.string()))


def _name(expectation: str, kwargs: dict[str, Any]) -> str:
    return f"{expectation}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"


def _compile(expectation: str, kwargs: dict[str, Any]) -> RowCheck | None:
    """The vectorized check of one suite entry, or ``None`` when it has no per-row meaning (or is unknown here)."""
    name = _name(expectation, kwargs)
    column = cast(str, kwargs.get("column"))  # every per-row expectation below names its column
    if expectation == "expect_column_values_to_not_be_null":
        return RowCheck(name, (column,), lambda t: pc.is_null(t.column(column)))
    if expectation == "expect_column_values_to_be_between":
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        below = pc.less_equal if kwargs.get("strict_min") else pc.less
        above = pc.greater_equal if kwargs.get("strict_max") else pc.greater

        def between(t: pa.Table) -> pa.ChunkedArray:
            values = t.column(column)
            out = below(values, low) if low is not None else None
            if high is not None:
                out = above(values, high) if out is None else pc.or_(out, above(values, high))
            return out

        return RowCheck(name, (column,), between) if (low is not None or high is not None) else None
    if expectation in ("expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set"):
        values = pa.array(list(kwargs.get("value_set") or []))
        inside = expectation.endswith("_to_be_in_set")

        def in_set(t: pa.Table) -> pa.ChunkedArray:
            column_values = t.column(column)
            found = pc.is_in(column_values, value_set=values.cast(column_values.type))
            hit = pc.invert(found) if inside else found
            return pc.and_(hit, pc.is_valid(column_values))

        return RowCheck(name, (column,), in_set)
    if expectation in ("expect_column_values_to_match_regex", "expect_column_values_to_not_match_regex"):
        pattern, must_match = kwargs["regex"], expectation.endswith("_to_match_regex")

        def regex(t: pa.Table) -> pa.ChunkedArray:
            matched = pc.match_substring_regex(t.column(column), pattern)
            return pc.invert(matched) if must_match else matched

        return RowCheck(name, (column,), regex)
    if expectation == "expect_column_pair_values_a_to_be_greater_than_b":
        a, b = kwargs["column_A"], kwargs["column_B"]
        smaller = pc.less if kwargs.get("or_equal") else pc.less_equal
        return RowCheck(name, (a, b), lambda t: smaller(t.column(a), t.column(b)))
    return None
