"""Validate one extracted partition against its view's suite before anything reaches the online store.

Only the batch extract's files (``batch-*``) are checked: rows the streaming sink appended to the same partition
were never part of this batch. The row-count band compares with the previous interval's batch, read from parquet
footers (no data scan). A failing batch is moved to quarantine with its report and the task fails with a summary
that names the view, the interval and each failed expectation. Either way the outcome is recorded next to the
partition (:mod:`featurekit.offline.validation`): materialization and training read that record, so the gate holds
whoever calls them, not only because of the DAG's task order.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from featurekit.config.settings import Settings
from featurekit.errors import FeaturekitError
from featurekit.intervals import DataInterval, grain_length
from featurekit.offline.layout import BATCH_PREFIX, partition_dir, partition_value
from featurekit.offline.storage import OfflineLocation, offline_location
from featurekit.offline.validation import Outcome, ValidationRecord, batch_id_of, report_path, write_record
from featurekit.quality.quarantine import quarantine_batch
from featurekit.quality.suites import SuiteError, SuiteSpec, load_suite
from featurekit.tags import grain_of


class DataQualityError(FeaturekitError, RuntimeError):
    """A batch failed its expectation suite (and was quarantined); the message is the readable summary."""


@dataclass(frozen=True)
class QualityReport:
    view: str
    partition: str
    rows: int
    evaluated: int
    failed: list[str]
    success: bool
    summary: str


def validate_partition(settings: Settings, view: Any, interval: DataInterval) -> QualityReport:
    """Check ``view``'s batch for ``interval``; quarantine it and raise :class:`DataQualityError` if it fails."""
    where = f"validate {view.name} {interval}"
    grain = grain_of(view)
    partition = partition_value(interval.start, grain)
    location = offline_location(settings.offline_store)
    files = location.files(partition_dir(view.name, partition), BATCH_PREFIX)
    if not files:
        raise DataQualityError(f"{where}: no extracted batch in ds={partition}; run extract first")
    try:
        spec = load_suite(settings.feature_repo, view.name)
    except SuiteError as exc:
        raise DataQualityError(f"{where}: {exc}") from exc
    table = ds.dataset(files, filesystem=location.fs, format="parquet").to_table()
    batch_id = batch_id_of(files)
    assert batch_id is not None  # files is not empty
    previous = _batch_rows(location, view.name, partition_value(interval.start - grain_length(grain), grain))
    result = run_suite(spec, table, previous_rows=previous)
    failed = [describe_result(r) for r in result.results if not r.success]
    report = QualityReport(
        view=view.name,
        partition=partition,
        rows=table.num_rows,
        evaluated=len(result.results),
        failed=failed,
        success=bool(result.success),
        summary=f"{where}: {len(result.results) - len(failed)}/{len(result.results)} expectations passed on "
        f"{table.num_rows:,} rows (previous interval: {'unknown' if previous is None else f'{previous:,}'} rows)",
    )
    report_json = json.dumps(
        {
            "view": view.name,
            "partition": partition,
            "interval": [interval.start.isoformat(), interval.end.isoformat()],
            "validated_at": datetime.now(UTC).isoformat(),
            "rows": table.num_rows,
            "previous_rows": previous,
            "suite_file": str(spec.path),
            "suite_fingerprint": spec.fingerprint,
            "batch_id": batch_id,
            "result": result.to_json_dict(),
        },
        indent=2,
        default=str,
    )
    if report.success:
        report_uri = location.write_text(report_path(view.name, partition), report_json)
        _record(location, report, batch_id, spec, "passed", report_uri)
        return report
    quarantined = quarantine_batch(location, view.name, partition, files, report_json, _render_html(result))
    _record(location, report, batch_id, spec, "failed", quarantined.uri)
    lines = "\n".join(f"  - {line}" for line in failed)
    raise DataQualityError(
        f"{where}: {len(failed)} of {len(result.results)} expectations failed on {table.num_rows:,} rows "
        f"(suite {spec.path.name}):\n{lines}\n"
        f"  batch NOT materialized; quarantined at {quarantined.uri} (validation.json, validation.html)"
    )


def _record(
    location: OfflineLocation, report: QualityReport, batch_id: str, spec: SuiteSpec, outcome: Outcome, uri: str
) -> ValidationRecord:
    """Keep the outcome next to the partition: what materialization and training check before reading it."""
    record = ValidationRecord(
        view=report.view,
        partition=report.partition,
        batch_id=batch_id,
        suite_fingerprint=spec.fingerprint,
        outcome=outcome,
        rows=report.rows,
        evaluated=report.evaluated,
        report=uri,
        validated_at=datetime.now(UTC),
        failed=report.failed,
    )
    write_record(location, record)
    return record


def run_suite(spec: SuiteSpec, table: pa.Table, *, previous_rows: int | None) -> Any:
    """Run the suite on ``table`` with Great Expectations (pandas engine); returns GE's validation result."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_pandas("featurekit")
        .add_dataframe_asset(spec.view)
        .add_batch_definition_whole_dataframe("interval")
    )
    suite = gx.ExpectationSuite(name=spec.view)
    low, high = spec.row_count.bounds(previous_rows)
    declared = [*spec.expectations, ("expect_table_row_count_to_be_between", {"min_value": low, "max_value": high})]
    for index, (name, kwargs) in enumerate(declared):
        try:
            suite.add_expectation(ExpectationConfiguration(type=name, kwargs=kwargs).to_domain_obj())
        except Exception as exc:  # GE raises several unrelated types for unknown names and bad kwargs
            raise SuiteError(f"{spec.path}: expectations[{index}] {name}: {type(exc).__name__}: {exc}") from exc
    suite = context.suites.add(suite)
    definition = context.validation_definitions.add(gx.ValidationDefinition(name=spec.view, data=batch, suite=suite))
    return definition.run(batch_parameters={"dataframe": to_pandas(table)}, result_format="SUMMARY")


def to_pandas(table: pa.Table) -> Any:
    """Nullable pandas dtypes, so an integer column with nulls stays integer and type expectations stay honest."""
    import pandas as pd

    mapping = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int32Dtype(), pa.float64(): pd.Float64Dtype()}
    return table.to_pandas(types_mapper=mapping.get)


def _batch_rows(location: OfflineLocation, view: str, partition: str) -> int | None:
    files = location.files(partition_dir(view, partition), BATCH_PREFIX)
    if not files:
        return None
    return sum(pq.ParquetFile(location.fs.open_input_file(f)).metadata.num_rows for f in files)


def describe_result(result: Any) -> str:
    """One failed (or passed) expectation as a readable line: type, arguments and what was found."""
    config = result.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id", "result_format")}
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    detail = result.result or {}
    if detail.get("unexpected_count"):
        sample = list(dict.fromkeys(_plain(v) for v in (detail.get("partial_unexpected_list") or [])))[:5]
        found = f"{detail['unexpected_count']:,} unexpected ({detail.get('unexpected_percent', 0):.2f}%), e.g. {sample}"
    elif result.exception_info and result.exception_info.get("raised_exception"):
        found = f"error: {result.exception_info.get('exception_message')}"
    else:
        found = f"observed {_plain(detail.get('observed_value'))!r}"
    return f"{config.type}({args}): {found}"


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _render_html(result: Any) -> str:
    """The validation result as a Great Expectations data docs page (the same renderer data docs sites use)."""
    from great_expectations.render.renderer import ValidationResultsPageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    return DefaultJinjaPageView().render(ValidationResultsPageRenderer().render(result))
