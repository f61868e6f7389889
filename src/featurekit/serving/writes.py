"""Feast's write endpoints on the kit's writers: ``/push`` and ``/write-to-online-store``.

Request shapes are Feast's (``PushFeaturesRequest``, ``WriteToFeatureStoreRequest`` in ``feast.feature_server``)::

    POST /push                   {"push_source_name": "...", "df": {"col": [...]}, "to": "online" | "offline" |
                                  "online_and_offline", "allow_registry_cache": true, "transform_on_write": true}
    POST /write-to-online-store  {"feature_view_name": "...", "df": {"col": [...]}, "allow_registry_cache": true}

Online rows go through the store's newer-wins Arrow writer (``TieredRedisOnlineStore.write_arrow``), so a late or
replayed push never overwrites a newer value. The offline copy (``to`` offline/online_and_offline) is appended to
the kit's offline layout as ``push-<uuid>.parquet`` files in the rows' ``ds=`` partitions, next to the batch and
stream files, in the view's offline schema. Every column is converted to the view's declared type before anything
is written; a value that does not fit (a string for an Int64, an id beyond Int64) is a 400 naming the column, and
nothing is written. Then the rows pass the view's expectation suite, the same row-level checks the stream gate
runs (:class:`featurekit.quality.stream_gate.ViewGates`): one failing row refuses the whole request with a 422
naming the expectation and the row, and nothing is written, so a bad push never reaches the online store.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from featurekit.quality.stream_gate import EXPECTATION_COLUMN, ViewGates
from featurekit.serving.errors import FeatureReferenceError, PushQualityError, ServingRequestError
from featurekit.serving.request import columns, flag, json_object, optional_string

_TO = ("online", "offline", "online_and_offline")
_ROW = "__push_row"  # each row's position in the request, carried through the gate for the error message
_GRAIN_UNIT = {"daily": "day", "hourly": "hour"}


class FeatureWriter:
    """Writes pushed rows for the reader's project: online through the newer-wins writer, offline (optional) to
    ``offline`` (an :class:`featurekit.offline.storage.OfflineLocation`; ``None`` refuses offline pushes)."""

    def __init__(self, reader: Any, max_rows: int, offline: Any = None, gates: ViewGates | None = None) -> None:
        self.reader = reader
        self.max_rows = max_rows
        self.offline = offline
        self.gates = gates

    def push(self, body: bytes) -> dict[str, Any]:
        request = json_object(body)
        source = optional_string(request, "push_source_name")
        if source is None:
            raise ServingRequestError('"push_source_name" is required')
        to = request.get("to", "online")
        if to not in _TO:
            raise ServingRequestError(f'"to" must be one of {list(_TO)}, got {to!r}')
        cache = flag(request, "allow_registry_cache", True)
        flag(request, "transform_on_write", True)
        df, rows = columns(request, "df", self.max_rows, "serving.max_write_rows")
        views = [v for v in self._views(cache) if _push_source_name(v) == source]
        if not views:
            raise FeatureReferenceError(f"no feature view reads push source {source!r}")
        if to != "online" and self.offline is None:
            raise ServingRequestError(
                f'"to": {to!r} needs the kit\'s offline store: serve from the environment settings (featurekit '
                f"serve --env ...), not from a bare --repo"
            )
        tables = [(view, self._checked(view, self._table(view, df, rows))) for view in views]  # all before any write
        for view, table in tables:
            if to != "offline":
                self._online(view, table)
            if to != "online":
                self._offline_copy(view, table)
        return {"status": "ok", "rows": rows, "feature_views": sorted(v.name for v, _ in tables), "to": to}

    def write_to_online_store(self, body: bytes) -> dict[str, Any]:
        request = json_object(body)
        name = optional_string(request, "feature_view_name")
        if name is None:
            raise ServingRequestError('"feature_view_name" is required')
        cache = flag(request, "allow_registry_cache", True)
        flag(request, "transform_on_write", True)
        df, rows = columns(request, "df", self.max_rows, "serving.max_write_rows")
        view = next((v for v in self._views(cache) if v.name == name), None)
        if view is None:
            raise FeatureReferenceError(f"no feature view {name!r} in project {self.reader.project!r}")
        self._online(view, self._checked(view, self._table(view, df, rows)))
        return {"status": "ok", "rows": rows, "feature_views": [name], "to": "online"}

    # ---- helpers -------------------------------------------------------------------------------------------

    def _views(self, allow_cache: bool) -> list[Any]:
        registry, project = self.reader.registry, self.reader.project
        return [
            *registry.list_feature_views(project, allow_cache=allow_cache),
            *registry.list_stream_feature_views(project, allow_cache=allow_cache),
        ]

    def _table(self, view: Any, df: dict[str, list[Any]], rows: int) -> pa.Table:
        """The rows as an Arrow table in the view's types: join keys, features, event and created time."""
        from feast.types import from_feast_to_pyarrow_type

        compiled = self.reader.store.compiled(self.reader.config, view)
        wanted: dict[str, pa.DataType] = {}
        for column in view.entity_columns:
            wanted[column.name] = from_feast_to_pyarrow_type(column.dtype)
        for feature in view.features:
            wanted.setdefault(feature.name, from_feast_to_pyarrow_type(feature.dtype))
        missing = [name for name in [*wanted, compiled.timestamp_field] if name not in df]
        if missing:
            raise ServingRequestError(
                f'feature view {view.name!r} needs column(s) {missing} in "df" (got {sorted(df)})'
            )
        arrays: dict[str, pa.Array] = {}
        for name, arrow_type in wanted.items():
            try:
                arrays[name] = pa.array(df[name], type=arrow_type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError) as exc:
                raise ServingRequestError(
                    f'"df.{name}" does not fit {arrow_type} (feature view {view.name!r}): {exc}'
                ) from None
        for key in (c.name for c in view.entity_columns):
            if arrays[key].null_count:
                raise ServingRequestError(f'"df.{key}" has nulls: every row needs its entity key')
        arrays[compiled.timestamp_field] = _timestamps(df[compiled.timestamp_field], compiled.timestamp_field)
        if compiled.created_field:
            if compiled.created_field in df:
                arrays[compiled.created_field] = _timestamps(df[compiled.created_field], compiled.created_field)
            else:
                arrays[compiled.created_field] = pa.array([datetime.now(UTC)] * rows, pa.timestamp("us", tz="UTC"))
        table = pa.table(arrays)
        try:
            compiled.keyspace.encode_columns([table.column(k).to_pylist() for k in compiled.join_key_names])
        except Exception as exc:  # every id checked against its key type before a key is built
            raise ServingRequestError(f"feature view {view.name!r}: {exc}") from exc
        return table

    def _checked(self, view: Any, table: pa.Table) -> pa.Table:
        """``table`` when every row passes the view's row-level expectations; else :class:`PushQualityError`."""
        gate = self.gates.for_view(view.name) if self.gates is not None else None
        if gate is None:
            return table
        result = gate.split(table.append_column(_ROW, pa.array(range(table.num_rows), pa.int64())))
        if not result.bad.num_rows:
            return table
        first = result.bad.slice(0, 1).to_pylist()[0]
        check = next(c for c in gate.checks if c.name == first[EXPECTATION_COLUMN])
        values = ", ".join(f"{c}={first[c]!r}" for c in check.columns)
        failing = "; ".join(f"{name}: {n} row(s)" for name, n in result.failures.most_common())
        raise PushQualityError(
            f"feature view {view.name!r}: {result.bad.num_rows} of {table.num_rows} row(s) fail its expectations "
            f'({failing}); first: "df" row {first[_ROW]} ({values}). Nothing was written'
        )

    def _online(self, view: Any, table: pa.Table) -> None:
        self.reader.store.write_arrow(self.reader.config, view, table)

    def _offline_copy(self, view: Any, table: pa.Table) -> None:
        from featurekit.offline.layout import CREATED_FIELD, TIMESTAMP_FIELD, partition_value
        from featurekit.offline.schema import conform, offline_schema
        from featurekit.tags import grain_of

        compiled = self.reader.store.compiled(self.reader.config, view)
        rows = table.rename_columns(
            [TIMESTAMP_FIELD if n == compiled.timestamp_field else n for n in table.column_names]
        )
        if CREATED_FIELD not in rows.column_names:
            rows = rows.append_column(
                CREATED_FIELD, pa.array([datetime.now(UTC)] * rows.num_rows, pa.timestamp("us", tz="UTC"))
            )
        rows = conform(rows, offline_schema(view), where=f"push to feature view {view.name}")
        grain = grain_of(view)
        starts = pc.floor_temporal(rows.column(TIMESTAMP_FIELD), unit=_GRAIN_UNIT[grain])
        name = f"push-{uuid.uuid4().hex}.parquet"
        for start in pc.unique(starts).to_pylist():
            part = rows.filter(pc.equal(starts, pa.scalar(start, starts.type)))
            self.offline.append(view.name, partition_value(start, grain), part, name)


def _push_source_name(view: Any) -> str | None:
    from feast.data_source import PushSource

    source = getattr(view, "stream_source", None)
    return source.name if isinstance(source, PushSource) else None


def _timestamps(values: list[Any], name: str) -> pa.Array:
    """ISO-8601 strings (naive = UTC) or unix seconds, as UTC microseconds."""
    out: list[datetime] = []
    for index, value in enumerate(values):
        try:
            if isinstance(value, str):
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            elif isinstance(value, int | float) and not isinstance(value, bool):
                moment = datetime.fromtimestamp(value, tz=UTC)
            else:
                raise TypeError(f"got {type(value).__name__}")
        except (TypeError, ValueError, OverflowError, OSError) as exc:
            raise ServingRequestError(f'"df.{name}[{index}]" must be an ISO-8601 time or unix seconds: {exc}') from None
        out.append(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    return pa.array(out, pa.timestamp("us", tz="UTC"))
