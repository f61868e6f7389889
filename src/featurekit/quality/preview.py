"""Data preview for the plan: what each new or changed view's SQL produces on recent warehouse data.

``featurekit plan --preview`` runs, per new or changed view with SQL, its query over the most recent whole
interval(s) of its grain in the environment's warehouse (DuckDB locally, Athena in dev, through
:func:`featurekit.warehouse.engines.engine_for`), bounded by ``quality.preview`` (``intervals``; ``max_rows`` as a
``LIMIT``), then its expectation suite (Great Expectations, as the batch gate runs it). It reports rows, entities,
null rate and min/max per feature and the suite's result; for a *changed* view the same figures of the current
definition (its SQL and suite from ``--preview-base``: a git ref such as ``HEAD^1`` or a directory holding the base
feature repo) side by side. A view counts as changed when the plan changes it or its SQL or suite differs from the
base. A failing query or suite run is a figure of the preview (reported), never a crash of the plan.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from featurekit.config.settings import Settings
from featurekit.intervals import DataInterval, floor_to, grain_length
from featurekit.tags import grain_of

_VIEW_KINDS = ("feature view", "stream feature view")


@dataclass
class Figures:
    """What one definition's SQL produced on the preview interval (``error`` set when it could not run)."""

    rows: int | None = None
    entities: int | None = None
    features: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> null_rate, min, max
    suite: dict[str, Any] | None = None  # passed, evaluated, failed: [readable expectation results]
    truncated: bool = False
    error: str | None = None


@dataclass
class ViewPreview:
    view: str
    status: str  # "new" | "changed"
    interval: tuple[str, str]
    proposed: Figures
    current: Figures | None = None


@dataclass
class Preview:
    env: str
    max_rows: int
    base: str | None
    views: list[ViewPreview] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)

    def to_text(self) -> str:
        lines = [f"data preview ({self.env} warehouse, at most {self.max_rows:,} rows per view):"]
        if not self.views:
            lines.append("  no new or changed view with SQL")
        for v in self.views:
            lines.append(f"  {v.view} ({v.status}) [{v.interval[0]}, {v.interval[1]})")
            columns = [("current", v.current), ("proposed", v.proposed)] if v.current else [("proposed", v.proposed)]
            for label, value in _rows(columns):
                lines.append(f"    {label:<32} " + " | ".join(f"{cell:<28}" for cell in value).rstrip())
            for name, figures in columns:
                lines.extend(f"    {name} failed: {f}" for f in (figures.suite or {}).get("failed", []))
        return "\n".join(lines)

    def to_markdown(self) -> str:
        lines = [
            f"#### Data preview (`{self.env}` warehouse, at most {self.max_rows:,} rows per view)",
            "",
        ]
        if not self.views:
            lines.append("No new or changed view with SQL.")
        for v in self.views:
            lines += [f"**`{v.view}`** ({v.status}) on `[{v.interval[0]}, {v.interval[1]})`", ""]
            columns = [("current", v.current), ("proposed", v.proposed)] if v.current else [("proposed", v.proposed)]
            lines.append("| | " + " | ".join(name for name, _ in columns) + " |")
            lines.append("|---|" + "---|" * len(columns))
            for label, value in _rows(columns):
                lines.append(f"| {_md(label)} | " + " | ".join(_md(cell) for cell in value) + " |")
            for name, figures in columns:
                failed = (figures.suite or {}).get("failed", [])
                if failed:
                    lines += ["", f"<details><summary>{len(failed)} failed expectation(s), {name}</summary>", ""]
                    lines += [f"- `{_md(f)}`" for f in failed] + ["", "</details>"]
            lines.append("")
        return "\n".join(lines) + "\n"


def _rows(columns: Sequence[tuple[str, Figures | None]]) -> list[tuple[str, list[str]]]:
    """The table body: one line per figure, one cell per definition."""
    figures = [f for _, f in columns if f is not None]
    out = [("rows", [_count(f.rows, f) for f in figures])]
    out.append(("entities", ["-" if f.error else f"{f.entities:,}" for f in figures]))
    out.append(("suite", [_suite(f) for f in figures]))
    names = list(dict.fromkeys(n for f in figures for n in f.features))
    for name in names:
        stats = [f.features.get(name) for f in figures]
        out.append((f"{name} null rate", ["-" if s is None else f"{s['null_rate']:.1%}" for s in stats]))
        out.append((f"{name} min / max", ["-" if s is None else f"{_fmt(s['min'])} / {_fmt(s['max'])}" for s in stats]))
    return out


def _count(value: int | None, figures: Figures) -> str:
    if figures.error:
        return "⚠️ preview failed: " + figures.error[:300]
    return f"{value:,}{' (limit)' if figures.truncated else ''}"


def _suite(figures: Figures) -> str:
    if figures.error or figures.suite is None:
        return "-"
    suite = figures.suite
    if suite.get("error"):
        return "⚠️ " + str(suite["error"])[:300]
    if suite["passed"]:
        return f"✅ passed ({suite['evaluated']} expectations)"
    return f"❌ {len(suite['failed'])} of {suite['evaluated']} failed"


def _fmt(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:,.6g}"
    return str(value)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# ---- building the preview ------------------------------------------------------------------------------------


class BaseDefinitions:
    """The current definitions' SQL and suite text: a git ref (``HEAD^1``) or a directory holding a feature repo."""

    def __init__(self, base: str, feature_repo: Path) -> None:
        self.base, self.feature_repo = base, feature_repo
        self.directory = Path(base) if Path(base).is_dir() else None

    def text(self, relative: str) -> str | None:
        """``feature_views/<file>`` of the base, or ``None`` when the base does not have it."""
        if self.directory is not None:
            path = self.directory / relative
            return path.read_text() if path.is_file() else None
        root = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], cwd=self.feature_repo, capture_output=True, text=True, check=True
        ).stdout.strip()
        inside = (self.feature_repo.resolve() / relative).relative_to(Path(root).resolve())
        shown = subprocess.run(
            ["git", "show", f"{self.base}:{inside.as_posix()}"], cwd=root, capture_output=True, text=True
        )
        return shown.stdout if shown.returncode == 0 else None


def build_preview(
    settings: Settings, plan: Any, repo: Any, *, base: str | None = None, now: datetime | None = None
) -> Preview:
    """The preview of every new or changed view of ``repo`` that has SQL (see the module docstring)."""
    from featurekit.warehouse.sql import sql_path

    limits = settings.quality.preview
    preview = Preview(env=settings.env, max_rows=limits.max_rows, base=base)
    definitions = BaseDefinitions(base, settings.feature_repo) if base else None
    planned = {o.name: o.action for o in plan.objects if o.kind in _VIEW_KINDS}
    for view in [*repo.batch_views, *repo.stream_views]:
        if not sql_path(settings.feature_repo, view.name).is_file():
            continue
        sql_file, suite_file = f"feature_views/{view.name}.sql", f"feature_views/{view.name}.expectations.yaml"
        new_sql, new_suite = _read(settings.feature_repo / sql_file), _read(settings.feature_repo / suite_file)
        old_sql = definitions.text(sql_file) if definitions else None
        old_suite = definitions.text(suite_file) if definitions else None
        action = planned.get(view.name)
        edited = definitions is not None and (old_sql != new_sql or old_suite != new_suite)
        if action == "add" or (definitions is not None and old_sql is None):
            status = "new"
        elif action == "change" or edited:
            status = "changed"
        else:
            continue
        grain = grain_of(view)
        end = floor_to(now or datetime.now(UTC), grain)
        interval = DataInterval(end - grain_length(grain) * limits.intervals, end)
        proposed = view_figures(settings, view, new_sql, new_suite, interval)
        current = None
        if status == "changed":
            current = (
                view_figures(settings, view, old_sql, old_suite, interval)
                if old_sql is not None
                else Figures(error="no current SQL to compare with (pass --preview-base, e.g. HEAD^1)")
            )
        preview.views.append(
            ViewPreview(view.name, status, (interval.start.isoformat(), interval.end.isoformat()), proposed, current)
        )
    return preview


def _read(path: Path) -> str | None:
    return path.read_text() if path.is_file() else None


def view_figures(
    settings: Settings, view: Any, sql_text: str | None, suite_text: str | None, interval: DataInterval
) -> Figures:
    """Run one definition (SQL text + suite text) on ``interval``; any failure becomes ``Figures.error``."""
    from featurekit.offline.schema import offline_schema
    from featurekit.warehouse.engines import engine_for
    from featurekit.warehouse.sql import FeatureSQL

    if sql_text is None:
        return Figures(error="the view has no SQL file")
    limit = settings.quality.preview.max_rows
    try:
        sql = FeatureSQL(view=view.name, path=Path(f"{view.name}.sql"), text=sql_text)
        bounded = sql.render(interval).subquery("preview")
        from sqlglot import exp

        query = exp.select("*").from_(bounded).limit(limit + 1).sql(dialect="athena")
        table = engine_for(settings.warehouse).query_arrow(query)
        table = _coerce(table, offline_schema(view))
        truncated = table.num_rows > limit
        table = table.slice(0, limit)
        figures = profile(table, [c.name for c in view.entity_columns], _feature_names(view, table))
    except Exception as exc:  # the preview reports whatever went wrong; the plan itself must go on
        return Figures(error=f"{type(exc).__name__}: {exc}".strip())
    figures.truncated = truncated
    figures.suite = _suite_result(view.name, suite_text, table)
    return figures


def _feature_names(view: Any, table: pa.Table) -> list[str]:
    keys = {c.name for c in view.entity_columns}
    declared = [f.name for f in view.features if f.name not in keys]
    return [n for n in declared if n in table.column_names] + [
        n for n in table.column_names if n not in declared and n not in keys and n != "event_timestamp"
    ]


def _coerce(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Cast the columns the view declares to their offline types (as extract does); others stay as they are."""
    for index, name in enumerate(table.column_names):
        if name in schema.names and table.schema.field(name).type != schema.field(name).type:
            table = table.set_column(index, name, table.column(name).cast(schema.field(name).type))
    return table


def profile(table: pa.Table, keys: list[str], features: list[str]) -> Figures:
    """Rows, distinct entities, and per feature the null rate and min/max (one DuckDB pass over the table)."""
    import duckdb

    quoted = ", ".join(f'"{k}"' for k in keys if k in table.column_names) or "1"
    parts = [f"count(DISTINCT ({quoted}))"]
    for name in features:
        parts += [f'count("{name}")', f'min("{name}")', f'max("{name}")']
    with duckdb.connect() as con:
        con.register("preview", table)
        values = con.execute(f"SELECT {', '.join(parts)} FROM preview").fetchone() or ()
    rows = table.num_rows
    stats = {}
    for i, name in enumerate(features):
        present, low, high = values[1 + 3 * i : 4 + 3 * i]
        stats[name] = {"null_rate": (rows - present) / rows if rows else 0.0, "min": _plain(low), "max": _plain(high)}
    return Figures(rows=rows, entities=int(values[0]) if rows else 0, features=stats)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value if value is None or isinstance(value, int | float | str | bool) else str(value)


def _suite_result(view: str, suite_text: str | None, table: pa.Table) -> dict[str, Any]:
    """The suite run as the batch gate runs it (previous interval unknown: only absolute row-count bounds)."""
    import tempfile

    from featurekit.quality.suites import SUFFIX, load_suite
    from featurekit.quality.validate import describe_result, run_suite

    if suite_text is None:
        return {"passed": False, "evaluated": 0, "failed": [], "error": "the view has no expectation suite"}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "feature_views").mkdir()
            (Path(tmp) / "feature_views" / f"{view}{SUFFIX}").write_text(suite_text)
            spec = load_suite(Path(tmp), view)
        result = run_suite(spec, table, previous_rows=None)
    except Exception as exc:  # a bad suite (SuiteError) or GX failing on the data: reported, not raised
        return {"passed": False, "evaluated": 0, "failed": [], "error": f"{type(exc).__name__}: {exc}"}
    failed = [describe_result(r) for r in result.results if not r.success]
    return {"passed": bool(result.success), "evaluated": len(result.results), "failed": failed}


@dataclass
class PlanWithPreview:
    """A plan and its data preview rendered as one document (the preview follows the plan in every format)."""

    plan: Any
    preview: Preview

    def to_text(self) -> str:
        return self.plan.to_text() + "\n" + self.preview.to_text()

    def to_markdown(self) -> str:
        return self.plan.to_markdown().rstrip("\n") + "\n\n" + self.preview.to_markdown()

    def to_json(self) -> str:
        data = json.loads(self.plan.to_json())
        data["preview"] = self.preview.to_dict()
        return json.dumps(data, indent=2, default=str)


def with_preview(plan: Any, settings: Settings, *, base: str | None = None) -> PlanWithPreview:
    """``plan`` plus the preview of its new and changed views on ``settings``' warehouse."""
    from featurekit.repo.loader import load_repo

    return PlanWithPreview(plan, build_preview(settings, plan, load_repo(settings), base=base))
