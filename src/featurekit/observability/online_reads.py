"""Read rows of one feature view from the online store, with their event timestamps, as Python values.

Goes through the store's Feast ``online_read`` entry point (the same fetch and decoder as the serving fast path), so
what is checked is exactly what a model would be served, including the view's ttl.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from featurekit.observability.errors import OnlineStoreUnavailableError

OnlineRow = tuple[datetime | None, dict[str, Any] | None]


def read_online(config: Any, view: Any, keys: Sequence[dict[str, Any]]) -> list[OnlineRow]:
    """``(event_timestamp, {feature: value})`` per entity in ``keys`` (``(None, None)`` when absent or expired)."""
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.type_map import feast_value_type_to_python_type, python_values_to_proto_values

    from featurekit.online_store.errors import OnlineStoreError
    from featurekit.online_store.store import TieredRedisOnlineStore

    if not keys:
        return []
    columns = list(view.entity_columns)
    names = [c.name for c in columns]
    protos_by_key = [python_values_to_proto_values([k[c.name] for k in keys], c.dtype.to_value_type()) for c in columns]
    entity_keys = [
        EntityKey(join_keys=names, entity_values=[protos[i] for protos in protos_by_key]) for i in range(len(keys))
    ]
    store = TieredRedisOnlineStore()
    try:
        rows = store.online_read(config, view, entity_keys)
    except (OnlineStoreError, OSError) as exc:
        raise OnlineStoreUnavailableError(
            f"online store: reading feature view {view.name!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        store.close()
    out: list[OnlineRow] = []
    for event, values in rows:
        if values is None:
            out.append((None, None))
            continue
        decoded = {
            name: (feast_value_type_to_python_type(proto) if proto.WhichOneof("val") is not None else None)
            for name, proto in values.items()
        }
        out.append((event, decoded))
    return out
