"""The read core shared by every read path over the store: entity rows in, decoded feature columns out.

Both :class:`featurekit.serving.OnlineFeatureReader` and Feast's own ``get_online_features`` (which Feast delegates
to :meth:`TieredRedisOnlineStore.get_online_features`) run a compiled :class:`~.read_plan.ReadPlan` through
:func:`read_columns`: encode the entity keys (vectorized for integer keys), send one pre-packed pipeline per Redis
server (all feature views of all tiers living on that server in one round trip), decode the packed rows column-wise
with numpy, and compute on-demand feature views from the decoded columns. Keeping it in one place means the two
APIs cannot disagree about keys, expiry, decoding or on-demand semantics.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from featurekit.metrics import ONLINE_ROW_ERRORS_TOTAL
from featurekit.online_store.errors import EntityRowsError, SchemaMismatchError
from featurekit.online_store.read_plan import OdfvStep, ReadPlan, ViewStep
from featurekit.online_store.row_decode import DecodedRows, decode_rows
from featurekit.online_store.tier import RowRequest, TierClient

_VECTORIZE_FROM = 16  # below this many rows, per-row Python encoding is cheaper than numpy call overhead


@dataclass
class ReadColumns:
    """Output columns in response order. ``decoded[i]`` is the decoded rows of column i's feature view (shared by
    the view's columns: presence, event times, per-row errors), ``None`` for entity, request and on-demand columns.
    ``json_fix[i]``: the column holds values that need JSON conversion (NaN/inf, bytes, datetimes, lists)."""

    names: list[str]
    values: list[list[Any]]
    decoded: list[DecodedRows | None]
    views: list[str | None]
    json_fix: list[bool]


def group_servers(plan: ReadPlan, tier_for: Callable[[str], TierClient]) -> None:
    """Group the plan's view steps by Redis deployment so each gets one round trip (per node) per request."""
    groups: dict[tuple[Any, ...], tuple[TierClient, list[int]]] = {}
    for index, step in enumerate(plan.steps):
        tier = tier_for(step.view.tier)
        st = tier.settings
        server = (st.host, st.port, st.db, st.tls, st.username)
        groups.setdefault(server, (tier, []))[1].append(index)
    plan.server_groups = list(groups.values())


def read_columns(plan: ReadPlan, columns: dict[str, list[Any]], n: int) -> ReadColumns:
    """Read and decode every view of ``plan`` for ``n`` entity rows given as ``columns`` (see :func:`columnar`)."""
    return assemble(plan, columns, fetch_and_decode(plan, columns, n))


async def read_columns_async(plan: ReadPlan, columns: dict[str, list[Any]], n: int) -> ReadColumns:
    """:func:`read_columns` with the Redis round trips awaited on the running event loop."""
    request = FetchRequest(plan, columns, n)
    replies: list[Any] = [None] * len(plan.steps)
    for tier, indexes in plan.server_groups:
        got = await tier.fetch_async(request.requests(indexes))
        for i, rows in zip(indexes, got, strict=True):
            replies[i] = rows
    return assemble(plan, columns, request.decode(replies))


def assemble(plan: ReadPlan, columns: dict[str, list[Any]], decoded_steps: list[DecodedRows]) -> ReadColumns:
    """Response columns in Feast's order from the decoded rows of each plan step, plus on-demand views."""
    names: list[str] = []
    values: list[list[Any]] = []
    decoded_of: list[DecodedRows | None] = []
    views: list[str | None] = []
    json_fix: list[bool] = []
    for name, col in columns.items():
        if name in plan.join_keys or name in plan.request_data:
            names.append(name)
            values.append(col)
            decoded_of.append(None)
            views.append(None)
            json_fix.append(name in plan.request_data)

    for step, decoded in zip(plan.steps, decoded_steps, strict=True):
        if decoded.errors:
            ONLINE_ROW_ERRORS_TOTAL.labels(step.view.name).inc(len(decoded.errors))
        width = len(step.output_names)
        names += step.output_names
        values += decoded.columns
        decoded_of += [decoded] * width
        views += [step.view.name] * width
        if decoded.nonfinite:
            json_fix += [fix or pos in decoded.nonfinite for pos, fix in enumerate(step.json_fix)]
        else:
            json_fix += step.json_fix

    if plan.odfvs:
        available = dict(zip(names, values, strict=True))
        for odfv_step in plan.odfvs:
            for out_name, col in zip(odfv_step.output_names, transform(odfv_step, available, plan), strict=True):
                names.append(out_name)
                values.append(col)
                decoded_of.append(None)
                views.append(None)
                json_fix.append(True)

    keep_names = plan.keep_names
    keep = [i for i, name in enumerate(names) if name in keep_names]
    if len(keep) != len(names):
        names = [names[i] for i in keep]
        values = [values[i] for i in keep]
        decoded_of = [decoded_of[i] for i in keep]
        views = [views[i] for i in keep]
        json_fix = [json_fix[i] for i in keep]
    return ReadColumns(names, values, decoded_of, views, json_fix)


class FetchRequest:
    """The entity keys of one request, encoded once per distinct key encoding, and the decoding of the replies."""

    def __init__(self, plan: ReadPlan, columns: dict[str, list[Any]], n: int) -> None:
        self.plan, self.n = plan, n
        encoded: dict[tuple[Any, ...], tuple[Any, Any]] = {}
        self.keys_of: list[Any] = []
        for step in plan.steps:
            keys = encoded.get(step.encoding_key)
            if keys is None:
                keys = encoded[step.encoding_key] = encode_entities(step, columns, n)
            self.keys_of.append(keys)

    def requests(self, indexes: list[int]) -> list[RowRequest]:
        """The rows to fetch for the given steps."""
        steps = self.plan.steps
        return [(steps[i].view.keyspace, *self.keys_of[i]) for i in indexes]

    def decode(self, replies: list[list[Any]]) -> list[DecodedRows]:
        now_us = time.time_ns() // 1000
        out: list[DecodedRows] = []
        for step, rows in zip(self.plan.steps, replies, strict=True):
            view = step.view
            cutoff = now_us - view.ttl_us if view.ttl_us else None
            out.append(decode_rows(view.schema, rows, step.feature_indexes, expire_before_us=cutoff))
        return out


def fetch_and_decode(plan: ReadPlan, columns: dict[str, list[Any]], n: int) -> list[DecodedRows]:
    """Decoded rows per plan step (in step order): one round trip per Redis server."""
    request = FetchRequest(plan, columns, n)
    replies: list[Any] = [None] * len(plan.steps)
    for tier, indexes in plan.server_groups:
        got = tier.fetch(request.requests(indexes))
        for i, rows in zip(indexes, got, strict=True):
            replies[i] = rows
    return request.decode(replies)


def columnar(
    entity_rows: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]], plan: ReadPlan
) -> tuple[dict[str, list[Any]], int]:
    """Entity rows as columns (entity names mapped to join keys), with lengths and required columns checked."""
    if isinstance(entity_rows, Mapping):
        raw = {k: list(v) for k, v in entity_rows.items()}
    else:
        rows = entity_rows if isinstance(entity_rows, list) else list(entity_rows)
        if not rows:
            raise EntityRowsError("entity_rows is empty")
        keys = list(rows[0])
        raw = {}
        for k in keys:
            try:
                raw[k] = [row[k] for row in rows]
            except KeyError:
                bad = next(i for i, row in enumerate(rows) if k not in row)
                raise EntityRowsError(f"entity_rows[{bad}] has no column {k!r}") from None
        if set(map(len, rows)) != {len(keys)}:
            bad = next(i for i, row in enumerate(rows) if len(row) != len(keys))
            raise EntityRowsError(f"entity_rows[{bad}] has columns {sorted(rows[bad])}, expected {sorted(keys)}")
    columns: dict[str, list[Any]] = {}
    for name, col in raw.items():
        if name not in plan.join_keys and name not in plan.request_data and name in plan.entity_name_to_join_key:
            name = plan.entity_name_to_join_key[name]
        columns[name] = col
    lengths = {len(c) for c in columns.values()}
    if len(lengths) > 1:
        raise EntityRowsError(f"entity columns have different lengths: { {k: len(v) for k, v in columns.items()} }")
    n = lengths.pop() if lengths else 0
    for step in plan.steps:
        for join_key in step.entity_columns:
            if join_key not in columns:
                raise EntityRowsError(
                    f"entity rows have no join key column {join_key!r}, needed by feature view {step.view.name!r} "
                    f"(got columns: {sorted(columns)})"
                )
    missing_request = sorted(plan.request_data - set(columns))
    if missing_request:
        raise EntityRowsError(f"entity rows lack request data field(s) {missing_request} needed by on-demand views")
    return columns, n


def encode_entities(step: ViewStep, columns: dict[str, list[Any]], n: int) -> tuple[Any, Any]:
    """(fields, buckets) or, for integer keys in larger batches, (int64 array, bucket array)."""
    ks = step.view.keyspace
    key_cols = [columns[c] for c in step.entity_columns]
    if ks.int_key and n >= _VECTORIZE_FROM:
        try:
            ints = ks.int_array(key_cols[0])  # every id checked against the key's type before a key is built
        except SchemaMismatchError as exc:
            raise EntityRowsError(str(exc)) from exc
        return ints, ks.int_buckets(ints)
    fields: list[bytes] = []
    buckets: list[int] = []
    try:
        for vals in zip(*key_cols, strict=True):
            f, b = ks.encode_values(vals)
            fields.append(f)
            buckets.append(b)
    except SchemaMismatchError as exc:
        raise EntityRowsError(str(exc)) from exc
    return fields, buckets


def transform(step: OdfvStep, available: dict[str, list[Any]], plan: ReadPlan) -> list[list[Any]]:
    """Compute an on-demand feature view from the response columns, as Feast does (python or pandas mode)."""
    odfv = step.odfv
    inputs = {
        name: col
        for name, col in available.items()
        if name in plan.join_keys or name in step.request_fields or name in step.source_outputs
    }
    if odfv.mode == "python":
        out = odfv.transform_dict(inputs)
        getter = out.get
    elif odfv.mode in ("pandas", "substrait"):
        import pyarrow as pa

        table = odfv.transform_arrow(pa.table(inputs), plan.full_feature_names)

        def getter(name: str) -> Any:
            return table.column(name).to_pylist() if name in table.column_names else None
    else:
        raise ValueError(f"on-demand feature view {odfv.name!r} has unsupported mode {odfv.mode!r}")
    n = len(next(iter(available.values()))) if available else 0
    cols = []
    for feature, out_name in zip(step.features, step.output_names, strict=True):
        col = getter(out_name)
        if col is None:
            col = getter(feature)
        if col is None:
            raise ValueError(f"on-demand feature view {odfv.name!r} did not produce feature {feature!r}")
        if not isinstance(col, list):
            col = list(col) if hasattr(col, "__iter__") and not isinstance(col, str | bytes) else [col] * n
        cols.append(_coerce(col, step.dtypes.get(feature)))
    return cols


def _coerce(values: list[Any], dtype: Any) -> list[Any]:
    """Round-trip values through the declared Feast type the way Feast's protobuf conversion does."""
    kind = str(dtype) if dtype is not None else ""
    if kind == "Float32":
        return [None if v is None else float(np.float32(v)) for v in values]
    if kind == "Float64":
        return [None if v is None else float(v) for v in values]
    if kind in ("Int64", "Int32"):
        return [None if v is None else int(v) for v in values]
    if kind == "Bool":
        return [None if v is None else bool(v) for v in values]
    if kind == "String":
        return [None if v is None else str(v) for v in values]
    return values
