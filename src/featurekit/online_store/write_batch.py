"""One bounded batch of a newer-wins write, as RESP bytes ready for a tier client to send.

A batch is a slice of prepared rows sorted by bucket, so it is a sequence of *bucket runs* (consecutive rows of one
bucket). A standalone server takes the whole batch as one ``EVALSHA PUT_NEWER`` over every run's key; Redis Cluster
only runs a script whose keys share a slot, so a cluster tier sends one ``EVALSHA`` per run, grouped per node.
Both come from the same packed bytes: the (field, row) argument pairs are built once (one numpy byte matrix in the
fixed-width integer-key case) and sliced per run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from featurekit.online_store.keyspace import ViewKeyspace


@dataclass
class WriteBatch:
    """The packed rows ``rows`` of one view: ``buckets[k]`` holds ``counts[k]`` consecutive rows (run ``k``) whose
    order keys lie between ``lows[k]`` and ``highs[k]`` (see ``scripts.py``)."""

    keyspace: ViewKeyspace
    rows: slice
    ttl_ms: int
    buckets: np.ndarray
    counts: list[int]
    lows: list[bytes]
    highs: list[bytes]
    pairs: bytes | list[bytes]  # RESP (field, row) pairs: one fixed-stride block, or one item per row
    pair_stride: int = 0  # bytes per row in ``pairs`` when it is one block

    def __len__(self) -> int:
        return int(self.rows.stop - self.rows.start)  # slice bounds are typed Any

    def _pairs(self, start: int, stop: int) -> bytes:
        if isinstance(self.pairs, bytes):
            return self.pairs[start * self.pair_stride : stop * self.pair_stride]
        return b"".join(self.pairs[start:stop])

    def _head(self, sha: bytes, nkeys: int, nrows: int) -> bytes:
        nargs = 3 + nkeys + 1 + 3 * nkeys + 2 * nrows
        return b"*%d\r\n$7\r\nEVALSHA\r\n$%d\r\n%s\r\n$%d\r\n%d\r\n" % (nargs, len(sha), sha, len(str(nkeys)), nkeys)

    def _ttl(self) -> bytes:
        return b"$%d\r\n%d\r\n" % (len(str(self.ttl_ms)), self.ttl_ms)

    def command(self, sha: bytes) -> bytes:
        """One ``EVALSHA PUT_NEWER`` over every bucket of the batch (a standalone server: one command a batch)."""
        resp_keys = self.keyspace.resp_bucket_keys()
        nkeys = len(self.counts)
        keys = b"".join([resp_keys[b] for b in self.buckets.tolist()])
        cnt = b"".join([b"$%d\r\n%d\r\n" % (len(str(c)), c) for c in self.counts])
        bounds = b"".join([b"$16\r\n%s\r\n$16\r\n%s\r\n" % lh for lh in zip(self.lows, self.highs, strict=True)])
        return self._head(sha, nkeys, len(self)) + keys + self._ttl() + cnt + bounds + self._pairs(0, len(self))

    def run_commands(self, sha: bytes) -> list[bytes]:
        """One ``EVALSHA PUT_NEWER`` per bucket run (Redis Cluster: a script's keys must share one slot)."""
        resp_keys = self.keyspace.resp_bucket_keys()
        ttl = self._ttl()
        out: list[bytes] = []
        start = 0
        for bucket, count, lo, hi in zip(self.buckets.tolist(), self.counts, self.lows, self.highs, strict=True):
            stop = start + count
            out.append(
                self._head(sha, 1, count)
                + resp_keys[bucket]
                + ttl
                + b"$%d\r\n%d\r\n" % (len(str(count)), count)
                + b"$16\r\n%s\r\n$16\r\n%s\r\n" % (lo, hi)
                + self._pairs(start, stop)
            )
            start = stop
        return out


def bucket_runs(buckets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start index and length of each run of equal buckets (rows are sorted by bucket)."""
    if not len(buckets):
        return np.array([], dtype=np.int64), np.array([], dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]])
    return starts, np.diff(np.r_[starts, len(buckets)])


def order_bounds(event_us: np.ndarray, created_us: np.ndarray, starts: np.ndarray) -> tuple[list[bytes], list[bytes]]:
    """Per bucket run: 16-byte order keys ``lo`` <= every row's and ``hi`` >= every row's (see ``scripts.py``)."""
    lo = np.column_stack([np.minimum.reduceat(event_us, starts), np.minimum.reduceat(created_us, starts)])
    hi = np.column_stack([np.maximum.reduceat(event_us, starts), np.maximum.reduceat(created_us, starts)])
    lo_b, hi_b = lo.astype(">u8").tobytes(), hi.astype(">u8").tobytes()
    return [lo_b[i : i + 16] for i in range(0, len(lo_b), 16)], [hi_b[i : i + 16] for i in range(0, len(hi_b), 16)]


def fixed_pairs(int_keys: np.ndarray, key_width: int, fixed: np.ndarray) -> tuple[bytes, int]:
    """RESP (field, row) pairs of integer keys and fixed-width rows as one byte block; returns (block, row stride)."""
    m = len(int_keys)
    stride = fixed.shape[1]
    head = b"$%d\r\n" % key_width
    mid = b"\r\n$%d\r\n" % stride
    row_len = len(head) + key_width + len(mid) + stride + 2
    out = np.empty((m, row_len), dtype=np.uint8)
    pos = 0
    out[:, pos : pos + len(head)] = np.frombuffer(head, np.uint8)
    pos += len(head)
    key_dtype = ">i8" if key_width == 8 else ">i4"
    out[:, pos : pos + key_width] = int_keys.astype(key_dtype).view(np.uint8).reshape(m, key_width)
    pos += key_width
    out[:, pos : pos + len(mid)] = np.frombuffer(mid, np.uint8)
    pos += len(mid)
    out[:, pos : pos + stride] = fixed
    pos += stride
    out[:, pos:] = np.frombuffer(b"\r\n", np.uint8)
    return out.tobytes(), row_len


def listed_pairs(fields: list[bytes], values: list[bytes]) -> list[bytes]:
    """RESP (field, row) pairs, one item per row (variable-width keys or rows)."""
    return [b"$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(f), f, len(v), v) for f, v in zip(fields, values, strict=True)]


__all__ = ["WriteBatch", "bucket_runs", "fixed_pairs", "listed_pairs", "order_bounds"]
