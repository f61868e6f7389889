"""RESP packing of row reads: one ``HGET bucket field`` per entity, all views of a tier in one round trip.

Commands are packed straight to RESP bytes (bucket keys are pre-encoded per view), so a 1,000-entity read costs one
``bytes.join`` and one socket exchange; hiredis turns the replies into a list of ``bytes | None`` in C.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from featurekit.online_store.keyspace import ViewKeyspace


def packed_hgets(keyspace: ViewKeyspace, fields: Sequence[bytes], buckets: Sequence[int]) -> bytes:
    """RESP bytes of ``HGET <bucket key> <field>`` for each entity."""
    keys = keyspace.resp_bucket_keys()
    return b"".join(
        [b"*3\r\n$4\r\nHGET\r\n%s$%d\r\n%s\r\n" % (keys[b], len(f), f) for f, b in zip(fields, buckets, strict=True)]
    )


_HGET_HEAD = b"*3\r\n$4\r\nHGET\r\n"


def packed_hgets_int(keyspace: ViewKeyspace, ints: np.ndarray, buckets: np.ndarray) -> bytes:
    """Vectorized :func:`packed_hgets` for a single integer join key: every command has the same length, so the
    whole batch is one numpy byte matrix (used for larger batches, where per-command formatting dominates)."""
    width = 8 if keyspace.join_keys[0].feast_type == "Int64" else 4
    key_len = keyspace.key_length
    head = _HGET_HEAD + b"$%d\r\n" % key_len
    mid = b"\r\n$%d\r\n" % width
    n = len(ints)
    row = len(head) + key_len + len(mid) + width + 2
    out = np.empty((n, row), dtype=np.uint8)
    out[:, : len(head)] = np.frombuffer(head, np.uint8)
    pos = len(head)
    out[:, pos : pos + key_len] = keyspace.key_matrix(buckets)
    pos += key_len
    out[:, pos : pos + len(mid)] = np.frombuffer(mid, np.uint8)
    pos += len(mid)
    out[:, pos : pos + width] = ints.astype(">i8" if width == 8 else ">i4").view(np.uint8).reshape(n, width)
    out[:, pos + width :] = np.frombuffer(b"\r\n", np.uint8)
    return out.tobytes()


def pack_request(keyspace: ViewKeyspace, keys: Any, buckets: Any) -> bytes:
    """RESP bytes of the ``HGET`` commands of one :data:`~.tier.RowRequest` (vectorized for integer-key arrays)."""
    if isinstance(keys, np.ndarray):
        return packed_hgets_int(keyspace, keys, np.asarray(buckets))
    return packed_hgets(keyspace, keys, buckets)


def split_replies(flat: list[Any], counts: Sequence[int]) -> list[list[Any]]:
    """One reply list per request from the replies of one pipelined exchange."""
    if len(counts) == 1:
        return [flat]
    out: list[list[Any]] = []
    pos = 0
    for c in counts:
        out.append(flat[pos : pos + c])
        pos += c
    return out


__all__ = ["pack_request", "packed_hgets", "packed_hgets_int", "split_replies"]
