"""Redis Cluster routing for the online store: the slot of every bucket key of a view, and commands as units
that can be split per node.

A view in the cluster layout (``keyspace.py``: a slot hash tag per bucket) has its slots by construction
(:func:`~.keyspace.bucket_slot_array`). Keys of the standalone layout (a view compiled for a standalone tier, read
through a cluster client) are routed by the CRC16 of the whole key, below.

CRC16/XMODEM (Redis' key hash) is linear and zero-initialised, so ``crc(prefix + suffix)`` is
``crc(prefix + 000) ^ crc(suffix)`` and the CRC of a 3-byte bucket suffix is three table lookups XORed: the slots of
all ``2**bits`` buckets of a view come out of a few numpy operations, once per view. Hash tags (``{...}``) are
honoured exactly as Redis does; the few keys a tag could affect are computed one by one with ``redis.crc.key_slot``.
"""

from __future__ import annotations

from binascii import crc_hqx
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
from redis.crc import key_slot

from featurekit.online_store.fetch import pack_request
from featurekit.online_store.keyspace import ViewKeyspace, bucket_slot_array

SLOTS = 16384
# CRC16 of a 3-byte bucket suffix, one table per byte position (CRC16/XMODEM is linear, leading zeros are free).
_T = [np.array([crc_hqx(bytes([v]) + b"\0" * (2 - i), 0) for v in range(256)], dtype=np.uint32) for i in range(3)]


def bucket_slots(prefix: bytes, count: int) -> np.ndarray:
    """Cluster slot of each of the ``count`` bucket keys ``prefix + bucket.to_bytes(3)``, exactly as Redis
    computes it (``redis.crc.key_slot``), for the whole keyspace at once."""
    b = np.arange(count, dtype=np.uint32)
    digits = [(b >> 16) & 0xFF, (b >> 8) & 0xFF, b & 0xFF]
    opened = prefix.find(b"{")
    closed = prefix.find(b"}", opened + 1) if opened >= 0 else -1
    if closed > opened + 1:  # a hash tag inside the prefix: every bucket in one slot
        return cast(np.ndarray, np.full(count, key_slot(prefix), dtype=np.int64))
    base = crc_hqx(prefix + b"\0\0\0", 0)
    slots: np.ndarray = ((base ^ _T[0][digits[0]] ^ _T[1][digits[1]] ^ _T[2][digits[2]]) & (SLOTS - 1)).astype(np.int64)
    if closed == opened + 1 and opened >= 0:  # "{}": Redis hashes the whole key
        return slots
    if opened >= 0:  # a "}" in the suffix closes the prefix's "{": those keys hash a tag
        odd = np.flatnonzero((digits[0] == 0x7D) | (digits[1] == 0x7D) | (digits[2] == 0x7D))
    else:  # a "{" in the suffix may open a tag that a later suffix byte closes
        odd = np.flatnonzero((digits[0] == 0x7B) | (digits[1] == 0x7B))
    for i in odd.tolist():
        slots[i] = key_slot(prefix + i.to_bytes(3, "big"))
    return slots


def keyspace_slots(keyspace: ViewKeyspace) -> np.ndarray:
    """Cluster slot of every bucket key of ``keyspace`` (index = bucket), exactly as Redis computes it."""
    if keyspace.cluster:
        return bucket_slot_array(keyspace.bucket_bits)
    return bucket_slots(keyspace.prefix, keyspace.bucket_count)


@dataclass
class Commands:
    """Commands with one reply each: the slot of each and how to pack a subset (by index, in order) as RESP."""

    slots: np.ndarray
    pack: Callable[[np.ndarray], bytes]


def int_packer(keyspace: ViewKeyspace, ints: np.ndarray, buckets: np.ndarray) -> Callable[[np.ndarray], bytes]:
    """Integer keys: every ``HGET`` has the same length, so the request is packed once as a byte matrix and each
    node's share is a row selection of it."""
    n = len(ints)
    packed: list[np.ndarray] = []

    def pack(idx: np.ndarray) -> bytes:
        if not packed:
            packed.append(np.frombuffer(pack_request(keyspace, ints, buckets), dtype=np.uint8).reshape(n, -1))
        if len(idx) == n:  # indexes are sorted and unique: all of them, in order
            return packed[0].tobytes()
        return cast(bytes, packed[0][idx].tobytes())  # fancy indexing is typed Any

    return pack


def field_packer(keyspace: ViewKeyspace, fields: Sequence[bytes], buckets: np.ndarray) -> Callable[[np.ndarray], bytes]:
    def pack(idx: np.ndarray) -> bytes:
        positions = idx.tolist()
        return pack_request(keyspace, [fields[i] for i in positions], buckets[idx].tolist())

    return pack


def list_packer(commands: list[bytes]) -> Callable[[np.ndarray], bytes]:
    return lambda idx: b"".join([commands[i] for i in idx.tolist()])


__all__ = ["SLOTS", "Commands", "bucket_slots", "field_packer", "int_packer", "keyspace_slots", "list_packer"]
