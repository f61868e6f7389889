"""The point-in-time query in availability-time mode (:mod:`featurekit.offline.availability` sets the mode).

Each feature row is keyed by when it became available online (its partition's finished run, or its own ``created``
for streamed rows) instead of its event time, so training rows see exactly what serving could have seen.
"""

from __future__ import annotations

from typing import Any

from featurekit.config.settings import Settings
from featurekit.intervals import grain_length
from featurekit.offline.layout import STREAM_PREFIX
from featurekit.offline.pit_sql import CREATED_OFFSET, ROW, SHIFT, TS, literal, quote
from featurekit.tags import grain_of


def availability_query(settings: Settings, view: Any, features: list[str], *, full_feature_names: bool) -> str:
    """``(entity row, features...)`` for every entity row, in order, from every file of the view (its glob)."""
    from featurekit.offline.records import read_records

    source = view.batch_source
    column = {v: k for k, v in (source.field_mapping or {}).items()}  # Feast name -> source column
    keys = [c.name for c in view.entity_columns]
    entity_keys = [view.projection.join_key_map.get(k, k) for k in keys]
    event = quote(column.get(source.timestamp_field, source.timestamp_field))
    created_name = source.created_timestamp_column
    created = quote(column.get(created_name, created_name)) if created_name else event
    created_us = f"coalesce(epoch_us({created}), 0) + {CREATED_OFFSET}" if created_name else "0"
    ttl = int(view.ttl.total_seconds()) if view.ttl else 0
    prefix = f"{view.projection.name_to_use()}__" if full_feature_names else ""
    select_keys = ", ".join(f"{quote(column.get(k, k))} AS {quote(k)}" for k in keys)
    values = ", ".join(f"{quote(column.get(f, f))} AS {quote('f_' + f)}" for f in features)
    records = read_records(settings, view.name)
    rows = ", ".join(f"('{r.partition}', TIMESTAMPTZ '{r.finished_at.isoformat()}')" for r in records)
    finished = f"(VALUES {rows}) AS r(ds, finished)" if rows else (
        "(SELECT NULL::VARCHAR AS ds, NULL::TIMESTAMPTZ AS finished WHERE false) AS r"
    )  # fmt: skip
    step = int(grain_length(grain_of(view)).total_seconds())
    key_list = ", ".join(quote(k) for k in keys)
    packed = ", ".join(["__event := __event", *[f"{quote('f_' + f)} := {quote('f_' + f)}" for f in features]])
    on_keys = " AND ".join(f"e.{quote(ek)} = g.{quote(k)}" for k, ek in zip(keys, entity_keys, strict=True))
    alive = f"g.best.__event >= e.{TS} - INTERVAL {ttl} SECOND" if ttl else "g.best IS NOT NULL"
    outputs = ", ".join(f"CASE WHEN {alive} THEN g.best.{quote('f_' + f)} END AS {quote(prefix + f)}" for f in features)
    # A running arg_max over each key's rows ordered by availability (RANGE: rows of one partition share their
    # finished_at and count together) is what the online store held at each instant, newer-wins by (event time,
    # created); the ASOF join then takes the last instant at or before the entity timestamp.
    return f"""
        WITH f AS (
            SELECT {select_keys}, {event} AS __event,
                   CAST(epoch_us({event}) AS HUGEINT) * {SHIFT} + {created_us} AS __order, {values},
                   CASE WHEN regexp_matches(src.filename, '/{STREAM_PREFIX}[^/]*$') THEN {created}
                        ELSE coalesce(r.finished, {event} + INTERVAL {step} SECOND) END AS __avail
            FROM read_parquet({literal(str(source.path))}, union_by_name = true, filename = true) AS src
            LEFT JOIN {finished} ON r.ds = regexp_extract(src.filename, 'ds=([^/]+)/[^/]*$', 1)
        ),
        g AS (
            SELECT {key_list}, __avail,
                   arg_max(struct_pack({packed}), __order) OVER (
                       PARTITION BY {key_list} ORDER BY __avail
                       RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS best
            FROM f WHERE __avail <= (SELECT max({TS}) FROM entity)
        )
        SELECT e.{ROW}, {outputs}
        FROM entity AS e ASOF LEFT JOIN g ON {on_keys} AND e.{TS} >= g.__avail
        ORDER BY e.{ROW}
    """
