"""The SQL vocabulary shared by the point-in-time queries: the entity rows' helper columns, the one-number order
key of (event time, created), and quoting."""

from __future__ import annotations

ROW, TS = "__featurekit_row", "__featurekit_ts"  # an entity row's input position, its timestamp as TIMESTAMPTZ
SHIFT = 2**63  # event_us * SHIFT + created key: lexicographic (event time, created) in one HUGEINT
CREATED_OFFSET = 2**62  # keeps the created part positive (any date after ~146,000 BC) and below SHIFT


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def quote(name: str) -> str:
    """A SQL identifier."""
    return '"' + name.replace('"', '""') + '"'
