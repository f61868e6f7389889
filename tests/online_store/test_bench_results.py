"""The online benchmark's JSON carries the issue's ratios under stable keys (checked on a synthetic result, so the
test does not depend on timing), and its helpers compute what they claim."""

from __future__ import annotations

import json

import pytest

from featurekit.cli.bench import load_bench_module


@pytest.fixture(scope="module")
def online():
    return load_bench_module("online")


def _result(stock_ms: float, fk_ms: float, floor_ms: float) -> dict:
    lat = {b: {"p50": fk_ms / 2, "p99": fk_ms} for b in ("1", "10", "100", "1000")}
    return {
        "materialize": {"stock": {"rows_per_s": 80_000.0}, "featurekit": {"rows_per_s": 2_000_000.0}},
        "push": {"stock": {"rows_per_s": 9_000.0}, "featurekit": {"rows_per_s": 900_000.0}},
        "memory": {"stock_bytes_per_entity": 500.0, "featurekit_bytes_per_entity": 200.0},
        "read_ms": {
            "stock": {b: {"p50": stock_ms / 2, "p99": stock_ms} for b in lat},
            "featurekit": lat,
            "floor_stock": {b: {"p50": floor_ms / 2, "p99": floor_ms} for b in lat},
            "floor_featurekit": {b: {"p50": floor_ms / 2, "p99": floor_ms} for b in lat},
        },
        "server": {
            "stock": {
                "concurrent_b1": {"rps": 1000.0, "server_cpu_ms_per_request": 1.2},
                "sequential_b1": {"latency_ms": {"p99": 2.5}},
            },
            "featurekit": {
                "concurrent_b1": {"rps": 6000.0, "server_cpu_ms_per_request": 0.2},
                "sequential_b1": {"latency_ms": {"p99": 1.2}},
            },
            "uvicorn_httptools": {"concurrent_b1": {"rps": 3000.0}, "sequential_b1": {"latency_ms": {"p99": 1.4}}},
        },
    }


def test_ratios_have_the_stable_keys_and_values(online):
    ratios = online.ratios(_result(stock_ms=8.0, fk_ms=1.2, floor_ms=1.0))
    assert ratios["materialize_speedup"] == 25.0
    assert ratios["push_speedup"] == 100.0
    assert ratios["memory_ratio"] == 0.4
    assert ratios["read_p99_over_floor"] == {"1": 1.2, "10": 1.2, "100": 1.2, "1000": 1.2}
    assert ratios["server_speedup"] == 6.0
    assert ratios["server_cpu_per_request_stock_over_featurekit"] == pytest.approx(6.0)
    assert ratios["candidate_uvicorn_speedup"] == 3.0 and ratios["candidate_uvicorn_p99_b1_ms"] == 1.4
    assert json.loads(json.dumps(ratios)) == ratios


def test_targets_pass_and_fail_on_the_thresholds(online):
    good = online.targets(online.ratios(_result(stock_ms=8.0, fk_ms=1.2, floor_ms=1.0)))
    assert all(good.values()) and len(good) == 6
    slow = online.targets(online.ratios(_result(stock_ms=8.0, fk_ms=1.6, floor_ms=1.0)))
    assert slow["read_p99_over_floor<=1.5"] is False


def test_percentiles_and_bucket_sizing():
    report = load_bench_module("report")
    stats = report.percentiles_ms([i / 1000 for i in range(1, 101)])  # 1..100 ms
    assert (stats["p50"], stats["p99"], stats["max"]) == (50.0, 99.0, 100.0)
    online = load_bench_module("online")
    assert online.bucket_bits_for(100_000) == 12
    assert online.bucket_bits_for(10_000) == 9


def _feast_api_result(fk_read_ms: float) -> dict:
    stock = {b: {"p50": 10.0, "p99": 20.0} for b in ("1", "10", "100", "1000")}
    return {
        "materialize": {"stock": {"rows_per_s": 10_000.0}, "featurekit": {"rows_per_s": 150_000.0}},
        "write_to_online_store": {"stock": {"rows_per_s": 9_000.0}, "featurekit": {"rows_per_s": 90_000.0}},
        "push": {"stock": {"rows_per_s": 9_000.0}, "featurekit": {"rows_per_s": 45_000.0}},
        "read_ms": {"stock": stock, "featurekit": {b: {"p50": 1.0, "p99": fk_read_ms} for b in stock}},
        "memory": {
            "10000": {"stock_bytes_per_entity": 500.0, "featurekit_bytes_per_entity": 250.0},
            "100000": {"stock_bytes_per_entity": 500.0, "featurekit_bytes_per_entity": 350.0},
        },
        "server": {"stock": {"concurrent_b1": {"rps": 600.0}}, "featurekit": {"concurrent_b1": {"rps": 1500.0}}},
    }


def test_feast_api_mode_ratios_and_targets():
    feast_api = load_bench_module("feast_api")
    ratios = feast_api.ratios(_feast_api_result(fk_read_ms=5.0))
    assert ratios["materialize_speedup"] == 15.0 and ratios["write_to_online_store_speedup"] == 10.0
    assert ratios["push_speedup"] == 5.0 and ratios["server_speedup"] == 2.5
    assert ratios["read_p99_speedup"] == {"1": 4.0, "10": 4.0, "100": 4.0, "1000": 4.0}
    assert ratios["memory_ratio"] == {"10000": 0.5, "100000": 0.7}
    targets = feast_api.targets(ratios)
    assert targets["materialize_speedup>=10"] and targets["write_to_online_store_speedup>=10"]
    assert not targets["push_speedup>=10"] and not targets["memory_ratio_100000<=0.6"]
    assert targets["memory_ratio_10000<=0.6"] and targets["server_speedup>=2"] and targets["read_p99_b1<=stock"]
    slow = feast_api.targets(feast_api.ratios(_feast_api_result(fk_read_ms=25.0)))
    assert not slow["read_p99_b1<=stock"] and not slow["read_p99_speedup_b1000>=3"]


def _backend(rows_s: float, push_s: float, bytes_: float, p50: float, p99: float) -> dict:
    lat = {b: {"p50": p50, "p99": p99} for b in ("1", "10", "100", "1000")}
    return {"materialize_rows_per_s": rows_s, "push_rows_per_s": push_s, "bytes_per_entity": bytes_, "read_ms": lat}


def test_cluster_ratios_are_oriented_so_that_above_one_is_worse_and_the_target_is_1_5():
    cluster = load_bench_module("cluster")
    out = {
        "standalone": _backend(300_000.0, 200_000.0, 100.0, 1.0, 2.0),
        "cluster": _backend(250_000.0, 100_000.0, 120.0, 1.4, 2.2),
    }
    r = cluster.ratios(out)
    assert r["materialize_standalone_over_cluster"] == pytest.approx(1.2)
    assert r["push_standalone_over_cluster"] == pytest.approx(2.0)
    assert r["bytes_per_entity_cluster_over_standalone"] == pytest.approx(1.2)
    assert r["read_b1000_p50_cluster_over_standalone"] == pytest.approx(1.4)
    assert r["read_b1_p99_cluster_over_standalone"] == pytest.approx(1.1)
    assert len(r) == 3 + 4 * 2
    assert not cluster.met(r)  # push is 2x slower
    out["cluster"]["push_rows_per_s"] = 150_000.0
    assert cluster.met(cluster.ratios(out))
    out["cluster"]["read_ms"]["1"]["p99"] = float("nan")
    assert not cluster.met(cluster.ratios(out))


def test_feast_api_cpu_figures_and_the_server_floor_split():
    feast_api, feast_serve = load_bench_module("feast_api"), load_bench_module("feast_serve")
    result = _feast_api_result(fk_read_ms=5.0)
    result["read_cpu_ms"] = {"stock": {"1": 0.6}, "featurekit": {"1": 0.15}}
    server = {
        name: {mode: {"cpu_ms_per_request": ms, "rps": 1000 / ms} for mode in ("sequential_b1", "concurrent_b1")}
        for name, ms in (("stock", 1.2), ("featurekit", 0.8), ("floor", 0.6))
    }
    server["cpu_split"] = feast_serve.cpu_split(server)
    result["server"] = server
    split = server["cpu_split"]["concurrent_b1"]
    assert split["feast_server_cpu_ms"] == 0.6 and split["max_attainable_speedup"] == 2.0
    assert round(split["stock_store_cpu_ms"], 9) == 0.6 and round(split["featurekit_store_cpu_ms"], 9) == 0.2
    assert round(split["store_cpu_speedup"], 9) == 3.0 and round(split["cpu_speedup"], 9) == 1.5
    ratios = feast_api.ratios(result)
    assert ratios["read_cpu_speedup"] == {"1": 4.0}
    assert round(ratios["server_cpu_speedup"], 9) == 1.5 and ratios["server_max_attainable_speedup"] == 2.0
    assert round(ratios["server_speedup"], 9) == 1.5 and not feast_api.targets(ratios)["server_speedup>=2"]
