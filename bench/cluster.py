"""``featurekit bench online --cluster``: the featurekit store on a local 3-shard Redis Cluster beside a standalone
Redis, same dataset, one run.

Both backends get the same Feast definitions, dataset and code path (``featurekit bench online``'s materialization:
DuckDB newest row per user + ``write_arrow``; its push frames; ``OnlineFeatureReader`` reads of all 20 features);
only the tier config differs (``cluster: true``). Reported per backend: materialize and push rows/s (push: median
of 3 rounds alternating the backends), read p50/p99 per batch size (the two readers timed call by call in rotation,
so machine noise hits both alike) and Redis memory per entity (``used_memory`` growth summed over the primaries).
``ratios`` are cluster over standalone, oriented so that 1.0 is parity and > 1 means the cluster is worse; the
target is every ratio <= 1.5. Results go into the bench JSON under the key ``cluster`` (merged into an existing
file, so it can sit beside a full ``bench online`` run).
"""

from __future__ import annotations

import gc
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.online_data import (
    BATCHES,
    FULL,
    QUICK,
    REFS,
    VIEWS,
    Scale,
    bucket_bits_for,
    feast_objects,
    materialize_featurekit,
    min_idle_wait,
    push_featurekit,
    push_frames,
    quiet_feast,
    write_dataset,
    write_repo,
)
from bench.online_reads import batches_of_ids
from bench.report import (
    Stopwatch,
    console,
    machine_info,
    percentiles_ms,
    print_table,
    progress,
    ratio,
    time_interleaved,
    wait_for_idle,
    write_json,
)

TARGET = 1.5
PUSH_ROUNDS = 3
BACKENDS = ("standalone", "cluster")


def _used_memory(clients: list[Any]) -> int:
    time.sleep(0.3)
    return sum(int(c.info("memory")["used_memory"]) for c in clients)


def _backend(name: str, url: str, cluster: bool, workdir: Path, source: Path, scale: Scale) -> Any:
    from feast import FeatureStore

    repo = workdir / name
    tier = {"url": url, "cluster": cluster}
    write_repo(
        repo,
        {
            "type": "featurekit.online_store.store.TieredRedisOnlineStore",
            "tiers": {"hot": tier, "warm": tier},
            "default_tier": "warm",
            "bucket_bits": bucket_bits_for(scale.entities),
        },
    )
    with quiet_feast():
        fs = FeatureStore(repo_path=str(repo))
        fs.apply(feast_objects(source))
    return fs


def run(
    *, quick: bool = False, json_path: Path | None = None, out_dir: Path | None = None, scale: Scale | None = None
) -> dict[str, Any]:
    """Run the comparison; prints a table and merges ``{"cluster": ...}`` into the JSON file; returns it."""
    import redis

    from featurekit.config import project_root
    from featurekit.services.redis_cluster import LocalRedisCluster
    from featurekit.services.redis_server import RedisServer
    from featurekit.serving import OnlineFeatureReader

    scale = scale or (QUICK if quick else FULL)
    out_dir = out_dir or (json_path.parent if json_path else project_root() / "bench" / "results")
    json_path = json_path or out_dir / f"online-{scale.name}.json"
    started = time.time()
    workdir = Path(tempfile.mkdtemp(prefix="featurekit-bench-cluster-"))
    now = datetime.now(UTC).replace(microsecond=0)
    console.print(
        f"[bold]featurekit bench online --cluster[/] ({scale.name}): {scale.entities:,} users x {scale.versions} "
        "versions, 20 features / 3 views; standalone redis-server vs a local 3-primary Redis Cluster"
    )
    source = workdir / "source.parquet"
    with progress("writing dataset"):
        rows = write_dataset(source, scale, now)
    start, end = now - timedelta(days=31), now + timedelta(minutes=1)
    push_rows = scale.push_rows * len(VIEWS)
    with RedisServer.start() as server, LocalRedisCluster.start(primaries=3) as cluster:
        urls = {"standalone": (server.url, False), "cluster": (cluster.url, True)}
        memory_clients = {
            "standalone": [redis.Redis(port=server.port)],
            "cluster": [redis.Redis(port=s.port) for s in cluster.primaries],
        }
        out: dict[str, Any] = {"primaries": len(cluster.primaries), "redis": server_version(server.port)}
        readers: dict[str, Any] = {}
        stores: dict[str, Any] = {}
        for name in BACKENDS:
            url, is_cluster = urls[name]
            fs = _backend(name, url, is_cluster, workdir, source, scale)
            base = _used_memory(memory_clients[name])
            with progress(f"{name}: materialize ({rows:,} rows)"):
                seconds = materialize_featurekit(fs, source, start, end, Stopwatch())
            per_entity = (_used_memory(memory_clients[name]) - base) / scale.entities
            out[name] = {"materialize_rows_per_s": rows / seconds, "bytes_per_entity": per_entity, "read_ms": {}}
            stores[name] = fs
            readers[name] = OnlineFeatureReader.from_feature_store(fs)
        # Push: short, so timed PUSH_ROUNDS times alternating the backends (each round one second newer, so every
        # round really writes), median kept.
        push_s: dict[str, list[float]] = {name: [] for name in BACKENDS}
        with progress(f"push ({push_rows:,} rows) x {PUSH_ROUNDS}, alternating"):
            for k in range(PUSH_ROUNDS):
                frames = push_frames(scale, now + timedelta(seconds=k))
                for name in BACKENDS:
                    push_s[name].append(push_featurekit(stores[name], frames))
        for name in BACKENDS:
            out[name]["push_rows_per_s"] = push_rows / statistics.median(push_s[name])
        with progress("reads, standalone and cluster in rotation", sum(scale.read_iterations.values()) * 2) as adv:
            for batch in BATCHES:
                n = scale.read_iterations[batch]
                entity_rows = [[{"user_id": i} for i in b] for b in batches_of_ids(scale, batch, n + 5, seed=batch)]
                fns = {name: _reader_call(readers[name], entity_rows, adv) for name in BACKENDS}
                gc.collect()
                gc.freeze()
                wait_for_idle(timeout_s=min_idle_wait())
                for name, samples in time_interleaved(fns, n).items():
                    out[name]["read_ms"][str(batch)] = percentiles_ms(samples)
                gc.unfreeze()
        for reader in readers.values():
            reader.close()
        for clients in memory_clients.values():
            for c in clients:
                c.close()
    out["ratios"] = ratios(out)
    out["target"] = f"every ratio <= {TARGET}"
    out["met"] = met(out["ratios"])
    out["machine"] = machine_info()
    out["elapsed_s"] = time.time() - started
    out["command"] = "featurekit bench online --cluster" + (" --quick" if scale.name == "quick" else "")
    results = json.loads(json_path.read_text()) if json_path.exists() else {}
    results["cluster"] = out
    write_json(json_path, results)
    show(out)
    console.print(f"JSON: {json_path} (key: cluster)\nelapsed {out['elapsed_s']:.0f} s")
    return out


def server_version(port: int) -> str:
    import redis

    with redis.Redis(port=port) as client:
        return str(client.info("server")["redis_version"])


def _reader_call(reader: Any, entity_rows: list[list[dict[str, int]]], advance: Any) -> Any:
    def call(i: int) -> None:
        reader.get_online_features(REFS, entity_rows[i]).to_dict()
        advance(1)

    return call


def ratios(out: dict[str, Any]) -> dict[str, float]:
    """Cluster vs standalone, each oriented so that > 1 means the cluster is worse (target: <= 1.5)."""
    s, c = out["standalone"], out["cluster"]
    r = {
        "materialize_standalone_over_cluster": ratio(s["materialize_rows_per_s"], c["materialize_rows_per_s"]),
        "push_standalone_over_cluster": ratio(s["push_rows_per_s"], c["push_rows_per_s"]),
        "bytes_per_entity_cluster_over_standalone": ratio(c["bytes_per_entity"], s["bytes_per_entity"]),
    }
    for batch in BATCHES:
        for p in ("p50", "p99"):
            r[f"read_b{batch}_{p}_cluster_over_standalone"] = ratio(
                c["read_ms"][str(batch)][p], s["read_ms"][str(batch)][p]
            )
    return r


def met(r: dict[str, float]) -> bool:
    """Every figure of the cluster within 1.5x of standalone (a NaN ratio, a figure not measured, fails)."""
    return bool(r) and all(v <= TARGET for v in r.values())


def show(out: dict[str, Any]) -> None:
    s, c, r = out["standalone"], out["cluster"], out["ratios"]
    table = [
        ["materialize rows/s", s["materialize_rows_per_s"], c["materialize_rows_per_s"]],
        ["push rows/s", s["push_rows_per_s"], c["push_rows_per_s"]],
        ["bytes / entity", s["bytes_per_entity"], c["bytes_per_entity"]],
    ]
    for batch in BATCHES:
        for p in ("p50", "p99"):
            table.append([f"read b{batch} {p} ms", s["read_ms"][str(batch)][p], c["read_ms"][str(batch)][p]])
    print_table("standalone vs 3-primary cluster", ["figure", "standalone", "cluster"], table)
    print_table("ratios (<= 1.5: cluster within 1.5x)", ["ratio", "value"], [[k, v] for k, v in r.items()])
    console.print(f"target {out['target']}: {'met' if out['met'] else 'NOT met'}")


__all__ = ["met", "ratios", "run"]
