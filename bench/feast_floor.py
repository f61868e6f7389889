"""A bench-only Feast online store that does no work per request: the floor of ``feast serve``'s cost.

``feast serve`` spends CPU on every request that no online store can change: HTTP parsing, FastAPI's request model,
metrics, provider dispatch, ``convert_response_to_dict`` of the response protobuf in a worker thread and JSON
rendering. To measure that part instead of estimating it, the Feast-API benchmark starts a third server whose store
answers every ``get_online_features`` with one response built at the first request (same 21 columns, value types,
statuses and event times as the real stores return). Its CPU per request is Feast's own server cost; the stock and
featurekit figures minus it are what each store adds. If the stock total is less than twice this floor, no store can
make ``feast serve`` twice as fast as stock. Selected in ``feature_store.yaml`` by import path (Feast's extension
point for online stores); ``feast serve`` must have the repository root on ``PYTHONPATH`` to import it.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from feast.infra.online_stores.online_store import OnlineStore
from feast.infra.supported_async_methods import SupportedAsyncMethods
from feast.online_response import OnlineResponse
from feast.repo_config import FeastConfigBaseModel
from feast.value_type import ValueType

STORE_TYPE = "bench.feast_floor.FixedResponseOnlineStore"


class FixedResponseOnlineStoreConfig(FeastConfigBaseModel):
    """``online_store`` block for :class:`FixedResponseOnlineStore` (no settings)."""

    type: Literal["bench.feast_floor.FixedResponseOnlineStore"] = "bench.feast_floor.FixedResponseOnlineStore"


class FixedResponseOnlineStore(OnlineStore):
    """Answers every request with the same pre-built response; stores nothing."""

    def __init__(self) -> None:
        super().__init__()
        self._response: OnlineResponse | None = None

    @property
    def async_supported(self) -> SupportedAsyncMethods:
        return SupportedAsyncMethods(read=True, write=False)  # as both real stores: no thread hop for the read

    def _fixed(self, features: Any, entity_rows: Any) -> OnlineResponse:
        if self._response is None:
            self._response = OnlineResponse(build_response(list(features), entity_rows))
        return self._response

    def get_online_features(self, config: Any, features: Any, entity_rows: Any, *args: Any, **kwargs: Any) -> Any:
        return self._fixed(features, entity_rows)

    async def get_online_features_async(
        self, config: Any, features: Any, entity_rows: Any, *args: Any, **kwargs: Any
    ) -> Any:
        return self._fixed(features, entity_rows)

    def online_write_batch(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("the floor store only answers reads")

    def online_read(self, *args: Any, **kwargs: Any) -> list:
        raise NotImplementedError("the floor store answers whole requests (get_online_features)")

    def update(self, *args: Any, **kwargs: Any) -> None:
        pass  # nothing to create: the store holds no data

    def teardown(self, *args: Any, **kwargs: Any) -> None:
        pass


def build_response(refs: list[str], entity_rows: Any) -> Any:
    """The response the real stores give for ``refs`` (the bench's 8-byte features) and the first entity."""
    from bench.feast_api import _dtype
    from featurekit.online_store.feast_response import response_proto, status_entries, timestamp_entries

    rows = entity_rows if isinstance(entity_rows, dict) else {k: [v] for k, v in entity_rows[0].items()}
    entity, ids = next(iter(rows.items()))
    n = len(ids)
    names = [entity] + [ref.split(":", 1)[1] for ref in refs]
    columns: list[list[Any]] = [list(ids)]
    types = [ValueType.INT64]
    for name in names[1:]:
        integer = _dtype(name) == "Int64"
        columns.append([(1 << 39) + 12_345 if integer else 654_321.123_456_789] * n)
        types.append(ValueType.INT64 if integer else ValueType.DOUBLE)
    now_us = time.time_ns() // 1000
    info = [(status_entries(None, n), timestamp_entries(None, n))]
    info += [(status_entries([True] * n, n), timestamp_entries([now_us] * n, n))] * (len(names) - 1)
    return response_proto(names, columns, types, info)
