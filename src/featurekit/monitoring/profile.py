"""Compact per-partition profiles of a view's features, computed in one DuckDB pass over the Arrow table.

A profile keeps what drift and outage checks need and nothing that grows with the data: per feature the row count,
null count and either 21 quantiles (numerics) or the top values with their counts (strings, booleans); and the same
per slice when the view declares slice columns (``slices`` tag, top ``slice_top_n`` values, the rest pooled as
``__other__``). It is stored as one small JSON object per (view, partition) beside the materialization records::

    <offline root>/_profiles/<view>/<partition>.json

(underscore-prefixed, so Athena/Glue and the parquet globs never read it as data). Stream views get one profile per
hour of their offline copy (``2026-01-01T13``), so an hour of the stream going wrong is not averaged into a day.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.fs as pafs

from featurekit.config.settings import Settings
from featurekit.offline.layout import TIMESTAMP_FIELD
from featurekit.offline.storage import offline_location

PROFILES_DIR = "_profiles"
QUANTILES = tuple(i / 20 for i in range(21))
TOP_VALUES = 20
DEFAULT_SLICE_TOP_N = 20
OTHER = "__other__"
NULL = "__null__"
ALL = "*"


@dataclass
class FeatureProfile:
    """One feature in one partition (or one slice of it)."""

    kind: str  # numeric | categorical
    count: int
    nulls: int
    quantiles: list[float] = field(default_factory=list)  # numeric: values at QUANTILES
    top: dict[str, int] = field(default_factory=dict)  # categorical: value -> rows
    other: int = 0  # categorical: non-null rows outside ``top``

    @property
    def null_rate(self) -> float:
        return self.nulls / self.count if self.count else 0.0


@dataclass
class GroupProfile:
    """All features of one group of rows: the whole partition, or one slice."""

    rows: int
    features: dict[str, FeatureProfile]
    newest: datetime | None = field(default=None, compare=False, repr=False)


@dataclass
class PartitionProfile:
    view: str
    partition: str
    rows: int
    newest_event: datetime | None
    profiled_at: datetime
    features: dict[str, FeatureProfile]
    slices: dict[str, dict[str, GroupProfile]] = field(default_factory=dict)  # column -> value -> profile

    def to_json(self) -> str:
        data = asdict(self)
        for groups in data["slices"].values():
            for group in groups.values():
                group.pop("newest", None)  # the partition's newest event is kept once, at the top
        data["newest_event"] = self.newest_event.isoformat() if self.newest_event else None
        data["profiled_at"] = self.profiled_at.isoformat()
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, *, where: str) -> PartitionProfile:
        try:
            data = json.loads(text)
            return cls(
                view=data["view"],
                partition=data["partition"],
                rows=int(data["rows"]),
                newest_event=datetime.fromisoformat(data["newest_event"]) if data["newest_event"] else None,
                profiled_at=datetime.fromisoformat(data["profiled_at"]),
                features={k: FeatureProfile(**v) for k, v in data["features"].items()},
                slices={
                    column: {
                        value: GroupProfile(g["rows"], {k: FeatureProfile(**v) for k, v in g["features"].items()})
                        for value, g in groups.items()
                    }
                    for column, groups in data["slices"].items()
                },
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{where}: not a partition profile: {type(exc).__name__}: {exc}") from exc


def slice_columns(view: Any) -> list[str]:
    """The view's ``slices`` tag as a list (``"state"`` or ``"state, provider"``)."""
    return [c.strip() for c in view.tags.get("slices", "").split(",") if c.strip()]


def slice_top_n(view: Any) -> int:
    raw = view.tags.get("slice_top_n", str(DEFAULT_SLICE_TOP_N))
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"feature view {view.name!r}: tag slice_top_n={raw!r} is not an integer") from None
    if value < 1:
        raise ValueError(f"feature view {view.name!r}: tag slice_top_n={raw!r} must be at least 1")
    return value


def feature_names(view: Any) -> list[str]:
    keys = {c.name for c in view.entity_columns}
    return [f.name for f in view.features if f.name not in keys]


def profile_table(view: Any, partition: str, table: pa.Table) -> PartitionProfile:
    """Profile ``table`` (rows of one partition of ``view``) in DuckDB; slices per the view's tags."""
    profiles = profile_by(view, table, "'" + partition.replace("'", "''") + "'")
    return profiles.get(partition) or PartitionProfile(
        view=view.name,
        partition=partition,
        rows=0,
        newest_event=None,
        profiled_at=datetime.now(UTC),
        features={f: _empty(_is_numeric(table.schema.field(f).type)) for f in _features(view, table)},
    )


def profile_by(view: Any, table: pa.Table, key: str) -> dict[str, PartitionProfile]:
    """Profiles of ``table`` per value of the SQL expression ``key`` (a constant partition name, or the hour of the
    event time for stream views), all keys in the same few aggregate queries."""
    features = _features(view, table)
    slices = slice_columns(view)
    for column in slices:
        if column not in table.column_names:
            raise ValueError(
                f"feature view {view.name!r}: slice column {column!r} (tag slices) is not in its rows "
                f"(columns: {table.column_names}); the SQL must output it and the view must declare it"
            )
    numeric = {f for f in features if _is_numeric(table.schema.field(f).type)}
    now = datetime.now(UTC)
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        con.register("t", table.select([*features, *slices, TIMESTAMP_FIELD]))
        whole = _groups(con, key, features, numeric)
        out = {k: PartitionProfile(view.name, k, g.rows, _utc(g.newest), now, g.features, {}) for k, g in whole.items()}
        for column in slices:
            value = f"coalesce(CAST({_q(column)} AS VARCHAR), '{NULL}')"
            top = [r[0] for r in con.execute(
                f"SELECT {value} AS v, count(*) AS n FROM t GROUP BY v ORDER BY n DESC, v LIMIT {slice_top_n(view)}"
            ).fetchall()]  # fmt: skip
            listed = ", ".join("'" + v.replace("'", "''") + "'" for v in top)
            bucket = f"{key} || chr(31) || CASE WHEN {value} IN ({listed}) THEN {value} ELSE '{OTHER}' END"
            for composite, group in _groups(con, bucket, features, numeric).items():
                k, slice_value = composite.split(chr(31), 1)
                out[k].slices.setdefault(column, {})[slice_value] = group
    return out


def _features(view: Any, table: pa.Table) -> list[str]:
    return [f for f in feature_names(view) if f in table.column_names]


def _utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if moment is not None else None


def _groups(con: Any, bucket: str, features: list[str], numeric: set[str]) -> dict[str, GroupProfile]:
    """Rows, newest event, and per feature the null count plus quantiles (numerics) or value counts (the others) for
    every value of ``bucket``: one aggregate query, one scan. Only the top values are kept (bounded JSON)."""
    quantiles = "[" + ", ".join(str(q) for q in QUANTILES) + "]"
    parts = ["count(*)", f'max("{TIMESTAMP_FIELD}")']
    for f in features:
        parts.append(f"count({_q(f)})")
        parts.append(
            f"quantile_cont(CAST({_q(f)} AS DOUBLE), {quantiles})" if f in numeric
            else f"histogram(CAST({_q(f)} AS VARCHAR))"
        )  # fmt: skip
    rows = con.execute(f"SELECT {bucket} AS g, {', '.join(parts)} FROM t GROUP BY g").fetchall()
    out: dict[str, GroupProfile] = {}
    for row in rows:
        group, total, newest, values = row[0], int(row[1]), row[2], list(row[3:])
        profiles = {}
        for f in features:
            count, summary = int(values.pop(0)), values.pop(0)
            profile = FeatureProfile(
                kind="numeric" if f in numeric else "categorical", count=total, nulls=total - count
            )
            if f in numeric:
                profile.quantiles = [float(v) for v in summary] if summary else []
            else:
                ranked = sorted((summary or {}).items(), key=lambda kv: (-kv[1], kv[0]))
                profile.top = {str(v): int(n) for v, n in ranked[:TOP_VALUES]}
                profile.other = count - sum(profile.top.values())
            profiles[f] = profile
        out[group] = GroupProfile(total, profiles, newest)
    return out


def _empty(numeric: bool) -> FeatureProfile:
    return FeatureProfile(kind="numeric" if numeric else "categorical", count=0, nulls=0)


def _is_numeric(dtype: pa.DataType) -> bool:
    return pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# ---- storage -------------------------------------------------------------------------------------------------


def profile_path(view: str, partition: str) -> str:
    return f"{PROFILES_DIR}/{view}/{partition}.json"


def store_profile(settings: Settings, profile: PartitionProfile) -> str:
    """Write (replace) the profile of one (view, partition); returns its relative path."""
    relative = profile_path(profile.view, profile.partition)
    offline_location(settings.offline_store).write_text(relative, profile.to_json())
    return relative


def profile_names(settings: Settings, view: str) -> list[str]:
    """The partitions of ``view`` that have a stored profile, sorted (one listing, nothing read)."""
    location = offline_location(settings.offline_store)
    selector = pafs.FileSelector(location.path(f"{PROFILES_DIR}/{view}"), allow_not_found=True)
    infos = location.fs.get_file_info(selector)
    return sorted(i.base_name[:-5] for i in infos if i.type == pafs.FileType.File and i.base_name.endswith(".json"))


def read_profile(settings: Settings, view: str, partition: str) -> PartitionProfile:
    location = offline_location(settings.offline_store)
    path = location.path(profile_path(view, partition))
    with location.fs.open_input_stream(path) as stream:
        return PartitionProfile.from_json(stream.read().decode(), where=path)


def read_profiles(settings: Settings, view: str, partitions: list[str] | None = None) -> list[PartitionProfile]:
    """The stored profiles of ``view`` (all, or those of ``partitions``), oldest partition first."""
    names = profile_names(settings, view) if partitions is None else sorted(set(partitions))
    return [read_profile(settings, view, name) for name in names]


def profile_partition(settings: Settings, view: Any, partition: str, table: pa.Table) -> PartitionProfile:
    """Profile and store; the extract calls this on the table it just wrote (no second read)."""
    profile = profile_table(view, partition, table)
    store_profile(settings, profile)
    return profile


def profile_stream_hours(settings: Settings, view: Any, day: str) -> list[PartitionProfile]:
    """One profile per hour of a stream view's daily offline partition (warehouse backfill plus the stream sink's
    files), in one pass: the offline copy is what training reads, so it is what is profiled."""
    table = offline_location(settings.offline_store).read_partition(view.name, day)
    if table is None:
        return []
    hour = f"coalesce(strftime(date_trunc('hour', \"{TIMESTAMP_FIELD}\"), '%Y-%m-%dT%H'), '')"
    profiles = [p for _, p in sorted(profile_by(view, table, hour).items()) if p.partition]
    for profile in profiles:
        store_profile(settings, profile)
    return profiles
