"""The interface of the offline backend kind, and how an environment file names its backends.

An environment chooses its offline store by ``offline_store.type``; the settings model finds the backend's config
class by import path (the way Feast's ``feature_store.yaml`` names store classes), so this package never imports a
backend and every backend module holds its own config and implementation. The online store's config model is found
the same way: Feast instantiates that model from ``feature_store.yaml`` too, so it lives with the store.

What an offline backend must provide is the :class:`OfflineBackend` protocol below; the code that uses an offline
store asks the configured backend and never compares backend types.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Annotated, Any, Protocol, runtime_checkable

from pydantic import BeforeValidator, PlainSerializer, SerializationInfo

if TYPE_CHECKING:
    import pyarrow.fs as pafs
    from feast.data_source import DataSource

    from featurekit.online_store.config import TieredRedisOnlineStoreConfig

# ``type`` value -> ``module:Class`` of the backend's config model (which also implements the backend).
OFFLINE_STORES = {
    "parquet": "featurekit.offline.parquet:ParquetOfflineStore",
    "athena": "featurekit.offline.athena:AthenaOfflineStore",
}
# ``type`` value (Feast's import path of the store class) -> ``module:Class`` of its config model.
ONLINE_STORES = {
    "featurekit.online_store.store.TieredRedisOnlineStore": (
        "featurekit.online_store.config:TieredRedisOnlineStoreConfig"
    ),
}


@runtime_checkable
class OfflineBackend(Protocol):
    """One offline store backend: where its partitions live and how Feast and query engines see them."""

    type: str

    def filesystem(self) -> tuple[pafs.FileSystem, str, str]:
        """The pyarrow filesystem holding the partitions, the base path inside it, and the base URI."""
        ...

    def publish_partition(self, view: str, partition: str) -> str:
        """Make a freshly written partition visible to the backend's query engine; says how (for the log)."""
        ...

    def feast_source(self, view: str, description: str) -> DataSource:
        """The Feast data source over ``view``'s partitions."""
        ...

    def feast_store_block(self, training_requires_validation: bool) -> dict[str, Any]:
        """The ``offline_store`` block of Feast's ``feature_store.yaml``."""
        ...


def backend_class(kinds: dict[str, str], section: str, kind: object) -> type[Any]:
    """The config class registered for ``kind`` in ``kinds``; unknown kinds (any value a config file can hold,
    or none) name the section and the known ones."""
    target = kinds.get(kind) if isinstance(kind, str) else None
    if target is None:
        known = ", ".join(sorted(kinds))
        raise ValueError(f"{section}.type: unknown backend {kind!r} (known: {known})")
    module, name = target.split(":")
    model: type[Any] = getattr(importlib.import_module(module), name)
    return model


def _offline_store(value: Any) -> Any:
    if not isinstance(value, dict):
        return value  # already a backend instance (model_copy, tests); the isinstance check below validates it
    if "type" not in value:
        raise ValueError(f"offline_store.type: missing (one of: {', '.join(sorted(OFFLINE_STORES))})")
    kind = value["type"]
    return backend_class(OFFLINE_STORES, "offline_store", kind).model_validate(value)


def _dump(value: Any, info: SerializationInfo) -> Any:
    return value.model_dump(mode=info.mode, exclude_none=info.exclude_none)


OfflineStoreField = Annotated[OfflineBackend, BeforeValidator(_offline_store), PlainSerializer(_dump)]
"""The ``offline_store`` field of the settings: validated by the backend's own model, dumped as plain data."""


def _online_store(value: Any) -> Any:
    kind = value.get("type", next(iter(ONLINE_STORES))) if isinstance(value, dict) else getattr(value, "type", None)
    model = backend_class(ONLINE_STORES, "online_store", kind)
    return value if isinstance(value, model) else model.model_validate(value)


if TYPE_CHECKING:  # type checkers see the store's own model; at run time the field loads it by import path
    OnlineStoreField = TieredRedisOnlineStoreConfig
else:
    OnlineStoreField = Annotated[Any, BeforeValidator(_online_store), PlainSerializer(_dump)]
