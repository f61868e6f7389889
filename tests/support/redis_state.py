"""Snapshot every key of a Redis database by value, to compare online-store states exactly."""

from __future__ import annotations

from typing import Any

import redis


def redis_snapshot(url: str) -> dict[bytes, Any]:
    client = redis.Redis.from_url(url)
    try:
        out: dict[bytes, Any] = {}
        for key in client.scan_iter(count=1000):
            kind = client.type(key)
            if kind == b"hash":
                out[key] = client.hgetall(key)
            elif kind == b"string":
                out[key] = client.get(key)
            elif kind == b"zset":
                out[key] = client.zrange(key, 0, -1, withscores=True)
            elif kind == b"set":
                out[key] = sorted(client.smembers(key))
            elif kind == b"list":
                out[key] = client.lrange(key, 0, -1)
            else:
                out[key] = client.dump(key)
        return out
    finally:
        client.close()
