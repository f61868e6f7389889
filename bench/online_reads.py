"""``bench online``'s read phase: ``get_online_features`` of both systems at batch 1/10/100/1000, interleaved call by
call, beside each layout's raw redis-py round trip (the floor a store's read cannot go below)."""

from __future__ import annotations

import gc
from typing import Any

import numpy as np

from bench.online_data import BATCHES, PROJECT, REFS, VIEWS, Scale, min_idle_wait
from bench.report import percentiles_ms, progress, time_interleaved, wait_for_idle


def batches_of_ids(scale: Scale, batch: int, count: int, seed: int) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    return [rng.integers(1, scale.entities + 1, batch).tolist() for _ in range(count)]


def stock_floor_commands(fs: Any, ids: list[int]) -> list[tuple[bytes, list[Any]]]:
    """Stock layout: one hash per entity; the same fields Feast's HMGET asks for (20 features + 3 timestamps)."""
    from feast.infra.online_stores.helpers import _mmh3, _redis_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    fields: list[Any] = []
    for view, feats in VIEWS.items():
        fields += [_mmh3(f"{view}:{f}") for f, _ in feats] + [f"_ts:{view}"]
    out = []
    for i in ids:
        key = _redis_key(
            PROJECT,
            EntityKey(join_keys=["user_id"], entity_values=[Value(int64_val=i)]),
            entity_key_serialization_version=3,
        )
        out.append((key, fields))
    return out


def featurekit_keyspaces(fs: Any) -> list[Any]:
    store = fs._get_provider().online_store
    return [store.compiled(fs.config, view).keyspace for view in fs.list_feature_views()]


def featurekit_floor_commands(keyspaces: list[Any], ids: list[int]) -> list[tuple[bytes, bytes]]:
    """Featurekit layout: one HGET (bucket, entity field) per view and entity, exactly what the reader sends."""
    out = []
    for ks in keyspaces:
        for i in ids:
            field, bucket = ks.encode_values([i])
            out.append((ks.bucket_key(bucket), field))
    return out


def read_latencies(scale: Scale, fs: Any, fk_fs: Any, reader: Any, client: Any) -> dict[str, Any]:
    """p50/p99 per batch size for stock, featurekit and each layout's raw redis-py floor."""
    results: dict[str, Any] = {"stock": {}, "featurekit": {}, "floor_stock": {}, "floor_featurekit": {}}
    total = sum(scale.read_iterations.values()) * 4
    keyspaces = featurekit_keyspaces(fk_fs)
    with progress("in-process reads", total) as advance:
        for batch in BATCHES:
            n = scale.read_iterations[batch]
            id_batches = batches_of_ids(scale, batch, n + 5, seed=batch)
            rows = [[{"user_id": i} for i in b] for b in id_batches]
            stock_cmds = [stock_floor_commands(fs, b) for b in id_batches]
            fk_cmds = [featurekit_floor_commands(keyspaces, b) for b in id_batches]

            def stock_read(i: int, rows: list = rows) -> None:
                fs.get_online_features(features=REFS, entity_rows=rows[i]).to_dict()
                advance(1)

            def fk_read(i: int, rows: list = rows) -> None:
                reader.get_online_features(REFS, rows[i]).to_dict()
                advance(1)

            def stock_floor(i: int, cmds: list = stock_cmds) -> None:
                pipe = client.pipeline(transaction=False)
                for key, fields in cmds[i]:
                    pipe.hmget(key, fields)
                pipe.execute()
                advance(1)

            def fk_floor(i: int, cmds: list = fk_cmds) -> None:
                pipe = client.pipeline(transaction=False)
                for key, field in cmds[i]:
                    pipe.hget(key, field)
                pipe.execute()
                advance(1)

            gc.collect()
            gc.freeze()  # long-lived bench objects out of the collector's way, equally for every series
            # Each system is timed call by call alternating with its own raw floor, so both see the same noise.
            wait_for_idle(timeout_s=min_idle_wait())
            series = time_interleaved({"stock": stock_read, "floor_stock": stock_floor}, n)
            wait_for_idle(timeout_s=min_idle_wait())
            series |= time_interleaved({"featurekit": fk_read, "floor_featurekit": fk_floor}, n)
            for name, samples in series.items():
                results[name][str(batch)] = percentiles_ms(samples)
            gc.unfreeze()
    return results
