"""``featurekit bench online``: stock Feast's Redis online store vs the featurekit store, same Redis, one run.

Dataset: ``entities`` users x ``versions`` event times (1M rows / 100k users in full mode), 20 features (15
Float32, 5 Int64) over 3 feature views, one parquet source. Both systems get the same Feast definitions; stock Feast
uses ``online_store: type: redis`` and the ``file`` offline store, featurekit uses its tiered store (``user_balance``
on the hot tier, the rest warm; both tiers on the same server here).

Phases, each run for stock then featurekit on the same redis-server (flushed in between):

* materialize: stock ``FeatureStore.materialize`` vs featurekit's path (DuckDB latest-per-user scan of the same
  parquet + ``write_arrow``); source rows per second.
* memory: Redis ``used_memory`` growth per entity after materialize.
* read: in-process ``get_online_features(...).to_dict()`` for all 20 features at batch 1/10/100/1000, p50/p99, and
  the raw redis-py round trip fetching the same keys (each system's own layout) as the floor.
* push: ``write_to_online_store`` of newer rows for every view vs ``write_arrow`` of the same frames.
* server: ``feast serve -w 1 --max-requests 0`` vs ``featurekit serve --workers 1`` (llhttp + uvloop under the
  kit's protocol, small reads on the event loop: the chosen stack) vs two candidates: the same server with every
  read on its thread pool (``serving.inline_max_entities=0``) and the same ASGI app under ``uvicorn --http httptools
  --loop uvloop``: sequential batch-1 latency, then req/s, p99 and the server's CPU per request with concurrent
  keep-alive clients. The JSON records the chosen stack and the candidates under ``server_stack``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.http_load import asgi_entry_point, pool_only_environment, server_phase
from bench.online_data import (
    FULL,
    QUICK,
    REFS,
    VIEWS,
    Scale,
    bucket_bits_for,
    feast_objects,
    materialize_featurekit,
    materialize_stock,
    push_featurekit,
    push_frames,
    push_stock,
    quiet_feast,
    used_memory,
    write_dataset,
    write_repo,
)
from bench.online_reads import read_latencies
from bench.online_report import chart, ratios, show, targets
from bench.report import (
    BUSY_WARNINGS,
    Stopwatch,
    console,
    machine_info,
    progress,
    write_json,
)


def run(
    *,
    quick: bool = False,
    json_path: Path | None = None,
    out_dir: Path | None = None,
    redis_url: str | None = None,
    skip_server: bool = False,
    scale: Scale | None = None,
) -> dict[str, Any]:
    """Run the whole comparison; prints a table, writes JSON and a PNG chart; returns the results."""
    import redis
    from feast import FeatureStore

    from featurekit.config import project_root
    from featurekit.services.redis_server import RedisServer
    from featurekit.serving import OnlineFeatureReader

    scale = scale or (QUICK if quick else FULL)
    out_dir = out_dir or (json_path.parent if json_path else project_root() / "bench" / "results")
    json_path = json_path or out_dir / f"online-{scale.name}.json"
    started = time.time()
    server = None if redis_url else RedisServer.start()
    url = redis_url or server.url  # type: ignore[union-attr]
    workdir = Path(tempfile.mkdtemp(prefix="featurekit-bench-online-"))
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        client = redis.Redis.from_url(url)
        host, port = client.connection_pool.connection_kwargs["host"], client.connection_pool.connection_kwargs["port"]
        db = client.connection_pool.connection_kwargs.get("db", 0)
        console.print(
            f"[bold]featurekit bench online[/] ({scale.name}): {scale.entities:,} users x {scale.versions} "
            f"versions, 20 features / 3 views, Redis {url}"
        )
        source = workdir / "source.parquet"
        with progress("writing dataset"):
            rows = write_dataset(source, scale, now)
        stock_dir, fk_dir = workdir / "stock", workdir / "featurekit"
        write_repo(stock_dir, {"type": "redis", "connection_string": f"{host}:{port},db={db}"})
        tier = {"url": url}
        write_repo(
            fk_dir,
            {
                "type": "featurekit.online_store.store.TieredRedisOnlineStore",
                "tiers": {"hot": tier, "warm": tier},
                "default_tier": "warm",
                "bucket_bits": bucket_bits_for(scale.entities),
            },
        )
        objects = feast_objects(source)
        with quiet_feast():
            stock_fs = FeatureStore(repo_path=str(stock_dir))
            stock_fs.apply(objects)
            fk_fs = FeatureStore(repo_path=str(fk_dir))
            fk_fs.apply(objects)
        start, end = now - timedelta(days=31), now + timedelta(minutes=1)
        results: dict[str, Any] = {
            "scale": scale.name,
            "rows": rows,
            "entities": scale.entities,
            "features": 20,
            "views": 3,
            "machine": machine_info(),
            "redis": client.info("server")["redis_version"],
        }

        # --- stock Feast
        client.flushall()
        base = used_memory(client)
        with progress(f"stock materialize ({rows:,} rows)"):
            stock_mat = materialize_stock(stock_fs, start, end)
        stock_bytes = (used_memory(client) - base) / scale.entities
        # --- featurekit
        reader = OnlineFeatureReader.from_feature_store(fk_fs)
        client.flushall()
        base = used_memory(client)
        watch = Stopwatch()
        with progress(f"featurekit materialize ({rows:,} rows)"):
            fk_mat = materialize_featurekit(fk_fs, source, start, end, watch)
        fk_bytes = (used_memory(client) - base) / scale.entities
        # Both layouts live side by side from here on (different keys), so reads hit warm data for both.
        with progress("stock materialize (again, for reads)"), quiet_feast():
            stock_fs.materialize(start_date=start, end_date=end)

        reads = read_latencies(scale, stock_fs, fk_fs, reader, client)
        # Reads while a full materialization of the same views runs (bench/during_load.py); before the push phase,
        # whose newer rows its load does not overwrite.
        from bench.during_load import run_phase
        from bench.during_load import show as show_during_load

        with progress("during_load: reads while a full materialization runs"):
            results["during_load"] = run_phase(scale, reader, REFS, fk_dir, workdir, now, start, end, url)

        frames = push_frames(scale, now)
        push_rows = scale.push_rows * len(VIEWS)
        with progress(f"stock push ({push_rows:,} rows)"):
            stock_push = push_stock(stock_fs, frames)
        with progress(f"featurekit push ({push_rows:,} rows)"):
            fk_push = push_featurekit(fk_fs, frames)

        server_results: dict[str, Any] = {}
        if not skip_server:
            feast_bin = str(Path(sys.executable).with_name("feast"))
            with progress("stock feast serve"):
                server_results["stock"] = server_phase(
                    scale,
                    "stock",
                    [feast_bin, "serve", "-h", "127.0.0.1", "-w", "1", "--max-requests", "0", "--no-access-log"],
                    stock_dir,
                )
            fk_command = [
                *(sys.executable, "-m", "featurekit.cli.main", "serve", "--repo", str(fk_dir)),
                *("--host", "127.0.0.1", "--workers", "1"),
            ]
            with progress("featurekit serve"):
                server_results["featurekit"] = server_phase(
                    scale, "featurekit", fk_command, fk_dir, env={"FEATUREKIT_SERVING_TOKEN": ""}
                )
            with progress("candidate: featurekit serve, every read on the thread pool"):
                server_results["featurekit_pool_only"] = server_phase(
                    scale,
                    "featurekit",
                    [*fk_command, "--env", str(pool_only_environment(workdir))],
                    fk_dir,
                    env={"FEATUREKIT_SERVING_TOKEN": ""},
                )
            with progress("candidate: uvicorn + httptools, same ASGI app"):
                server_results["uvicorn_httptools"] = server_phase(
                    scale,
                    "uvicorn_httptools",
                    [
                        *(sys.executable, "-m", "uvicorn", "--factory", "--app-dir", str(fk_dir)),
                        asgi_entry_point(fk_dir),
                        *("--http", "httptools", "--loop", "uvloop", "--workers", "1", "--no-access-log"),
                        *("--host", "127.0.0.1", "--log-level", "warning"),
                    ],
                    fk_dir,
                    env={"FEATUREKIT_SERVING_TOKEN": ""},
                )
            results["server_stack"] = server_stack()
        reader.close()

        results.update(
            {
                "materialize": {
                    "stock": {
                        "seconds": stock_mat,
                        "rows_per_s": rows / stock_mat,
                        "entities_per_s": scale.entities / stock_mat,
                    },
                    "featurekit": {
                        "seconds": fk_mat,
                        "rows_per_s": rows / fk_mat,
                        "entities_per_s": scale.entities / fk_mat,
                        "phases_s": watch.phases,
                    },
                },
                "push": {
                    "rows": push_rows,
                    "stock": {"seconds": stock_push, "rows_per_s": push_rows / stock_push},
                    "featurekit": {"seconds": fk_push, "rows_per_s": push_rows / fk_push},
                },
                "memory": {"stock_bytes_per_entity": stock_bytes, "featurekit_bytes_per_entity": fk_bytes},
                "read_ms": reads,
                "server": server_results,
            }
        )
        results["ratios"] = ratios(results)
        results["targets"] = targets(results["ratios"]) | results["during_load"]["targets"]
        results["elapsed_s"] = time.time() - started
        results["busy_phases"] = len(BUSY_WARNINGS)
        results["command"] = "featurekit bench online" + (" --quick" if scale.name == "quick" else "")
        write_json(json_path, results)
        png = json_path.with_suffix(".png")
        chart(results, png)
        show(results)
        show_during_load(results["during_load"])
        console.print(f"JSON: {json_path}\nPNG:  {png}\nelapsed {results['elapsed_s']:.0f} s")
        return results
    finally:
        if server is not None:
            server.stop()


def server_stack() -> dict[str, Any]:
    """What ``featurekit serve`` runs and what it was measured against (versions from the environment)."""
    from importlib.metadata import version

    return {
        "chosen": "featurekit",
        "featurekit": f"featurekit serve: llhttp via httptools {version('httptools')}, uvloop {version('uvloop')}, "
        "asyncio protocol (featurekit.serving.http); reads of up to serving.inline_max_entities rows answered on the "
        "event loop (asyncio Redis read), larger ones on a bounded thread pool",
        "candidates": {
            "featurekit_pool_only": "featurekit serve with serving.inline_max_entities=0: every read on the bounded "
            "thread pool (the stack before small reads moved to the event loop)",
            "uvicorn_httptools": f"uvicorn {version('uvicorn')} --http httptools --loop uvloop, same ASGI app "
            "(featurekit.serving.wiring:app_for)",
            "stock": f"feast {version('feast')} serve -w 1 (gunicorn + uvicorn workers, FastAPI)",
        },
    }
