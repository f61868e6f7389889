"""The Arrow schema of a feature view's offline rows, derived from its Feast definition.

Extract casts the warehouse result to this schema, so a column that changes type upstream fails loudly at extract
time (schema drift) instead of silently reaching training data or the online store.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from featurekit.arrow_types import TIMESTAMP_TYPE, arrow_type
from featurekit.errors import FeaturekitError
from featurekit.offline.layout import CREATED_FIELD, TIMESTAMP_FIELD


class SchemaDriftError(FeaturekitError, TypeError):
    """A column is missing or cannot be cast to the view's declared type."""


def offline_schema(view: Any) -> pa.Schema:
    """Join keys, features, event and created timestamps, in that order (types: :mod:`featurekit.arrow_types`)."""
    fields = [pa.field(c.name, arrow_type(c.dtype)) for c in view.entity_columns]
    keys = {c.name for c in view.entity_columns}
    # A stream view read back from the registry lists its join key among the features too; keep it once.
    fields += [pa.field(f.name, arrow_type(f.dtype)) for f in view.features if f.name not in keys]
    fields += [pa.field(TIMESTAMP_FIELD, TIMESTAMP_TYPE), pa.field(CREATED_FIELD, TIMESTAMP_TYPE)]
    return pa.schema(fields)


def conform(table: pa.Table, schema: pa.Schema, *, where: str) -> pa.Table:
    """Select and cast ``table`` to ``schema``; naive timestamps are taken as UTC."""
    columns = []
    for target in schema:
        if target.name not in table.column_names:
            raise SchemaDriftError(f"{where}: column {target.name!r} is missing (have {table.column_names})")
        column = table.column(target.name)
        if pa.types.is_timestamp(column.type) and column.type.tz is None and pa.types.is_timestamp(target.type):
            column = column.cast(pa.timestamp("us")).cast(target.type)
        try:
            columns.append(column.cast(target.type, safe=True))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise SchemaDriftError(
                f"{where}: column {target.name!r} has type {column.type}, expected {target.type}: {exc}"
            ) from exc
    return pa.Table.from_arrays(columns, schema=schema)
