"""The tier-client interface: what the online store needs from one tier's Redis, and nothing else.

Two implementations, one module each: :class:`~.standalone.StandaloneTier` (one server, the lean pre-packed RESP
pipeline) and :class:`~.cluster.ClusterTier` (Redis Cluster: the same pre-packed commands grouped per node by
slot, redirections followed). Everything above this interface (writer, reads, store, serving, reconcile) is the same
for both; :func:`open_tier` is the one place that picks an implementation, from the tier's ``cluster`` setting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from featurekit.online_store.connection import Command, ConnectionSettings
from featurekit.online_store.keyspace import ViewKeyspace

if TYPE_CHECKING:
    from featurekit.online_store.write_batch import WriteBatch

RowRequest = tuple[ViewKeyspace, "np.ndarray | Sequence[bytes]", "np.ndarray | Sequence[int]"]
"""Rows of one view to fetch: the keyspace, the entity fields (or, for a single integer key, the int64 ids as a
numpy array) and the bucket of each entity."""

Acknowledge = Callable[["WriteBatch", list[Any]], None]
"""Called once per batch the server applied, with the script replies (rows applied, or an error object)."""


class TierClient(Protocol):
    """One tier's Redis deployment. Every command the store sends is idempotent (reads, newer-wins writes,
    deletes), so an implementation may resend after a connection failure or a redirection."""

    settings: ConnectionSettings
    loop_native: bool
    """True when :meth:`fetch_async` runs on the event loop itself (no thread): a server may then answer small
    reads on its loop (``featurekit.serving``)."""

    @property
    def name(self) -> str:
        """The tier's name in the configuration (for messages)."""
        ...

    def fetch(self, requests: Sequence[RowRequest]) -> list[list[Any]]:
        """Packed rows of every request in one pipelined exchange per server: per request one reply per entity,
        ``bytes`` (a row), ``None`` (missing) or an exception object (that key's command failed)."""
        ...

    async def fetch_async(self, requests: Sequence[RowRequest]) -> list[list[Any]]:
        """:meth:`fetch` awaited on the running event loop."""
        ...

    def write_newer(self, batches: Callable[[], Iterable[WriteBatch]], acknowledged: Acknowledge) -> None:
        """Send every batch through ``PUT_NEWER`` (newer-wins per entity, atomic per key), calling
        ``acknowledged`` per applied batch in order. ``batches()`` may be called again to resend from the start
        when nothing was acknowledged yet (a pooled connection that predates a Redis restart)."""
        ...

    async def write_newer_async(self, batches: Callable[[], Iterable[WriteBatch]], acknowledged: Acknowledge) -> None:
        """:meth:`write_newer` awaited on the running event loop (``feast serve``'s async push and write paths)."""
        ...

    def delete(self, keys: Sequence[bytes]) -> int:
        """``UNLINK`` the keys; returns how many existed."""
        ...

    def scan_keys(self, match: bytes, count: int = 1000) -> Iterator[bytes]:
        """Every key matching ``match`` (``SCAN``, on every primary; a key may come more than once)."""
        ...

    def pipeline(self, commands: Sequence[Command]) -> list[Any]:
        """Keyed commands for maintenance paths (vacuum, sizing): replies in order, error replies in place."""
        ...

    def command(self, *args: bytes | str | int | float) -> Any:
        """One keyless command (``PING``, ``SCRIPT LOAD``, ``CONFIG GET``), on every primary; an error reply raises."""
        ...

    def close(self) -> None: ...


__all__ = ["Acknowledge", "RowRequest", "TierClient"]
