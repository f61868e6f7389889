"""``bench online``'s results: the headline ratios under stable JSON keys, the targets they are checked against, the
terminal tables and the PNG chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.online_data import CONCURRENCY
from bench.report import BarPanel, plot_panels, print_table, ratio


def ratios(r: dict[str, Any]) -> dict[str, Any]:
    """The headline ratios under stable keys (what the issue's targets are checked against)."""
    reads = r["read_ms"]
    out: dict[str, Any] = {
        "materialize_speedup": ratio(
            r["materialize"]["featurekit"]["rows_per_s"], r["materialize"]["stock"]["rows_per_s"]
        ),
        "push_speedup": ratio(r["push"]["featurekit"]["rows_per_s"], r["push"]["stock"]["rows_per_s"]),
        "memory_ratio": ratio(r["memory"]["featurekit_bytes_per_entity"], r["memory"]["stock_bytes_per_entity"]),
        "read_p99_over_floor": {
            b: ratio(reads["featurekit"][b]["p99"], reads["floor_featurekit"][b]["p99"]) for b in reads["featurekit"]
        },
        "read_p99_speedup_vs_stock": {
            b: ratio(reads["stock"][b]["p99"], reads["featurekit"][b]["p99"]) for b in reads["featurekit"]
        },
        "stock_read_p99_over_floor": {
            b: ratio(reads["stock"][b]["p99"], reads["floor_stock"][b]["p99"]) for b in reads["stock"]
        },
    }
    server = r.get("server") or {}
    if server:
        out["server_speedup"] = ratio(
            server["featurekit"]["concurrent_b1"]["rps"], server["stock"]["concurrent_b1"]["rps"]
        )
        out["server_p99_b1_ms"] = server["featurekit"]["sequential_b1"]["latency_ms"]["p99"]
        out["server_cpu_per_request_stock_over_featurekit"] = ratio(
            server["stock"]["concurrent_b1"]["server_cpu_ms_per_request"],
            server["featurekit"]["concurrent_b1"]["server_cpu_ms_per_request"],
        )
        if "featurekit_pool_only" in server:
            out["candidate_pool_only_speedup"] = ratio(
                server["featurekit_pool_only"]["concurrent_b1"]["rps"], server["stock"]["concurrent_b1"]["rps"]
            )
            out["candidate_pool_only_p99_b1_ms"] = server["featurekit_pool_only"]["sequential_b1"]["latency_ms"]["p99"]
        if "uvicorn_httptools" in server:
            out["candidate_uvicorn_speedup"] = ratio(
                server["uvicorn_httptools"]["concurrent_b1"]["rps"], server["stock"]["concurrent_b1"]["rps"]
            )
            out["candidate_uvicorn_p99_b1_ms"] = server["uvicorn_httptools"]["sequential_b1"]["latency_ms"]["p99"]
    return out


def targets(ratios_: dict[str, Any]) -> dict[str, bool]:
    """Pass/fail of each target from the issue."""
    out = {
        "materialize_speedup>=20": ratios_["materialize_speedup"] >= 20,
        "push_speedup>=20": ratios_["push_speedup"] >= 20,
        "memory_ratio<=0.5": ratios_["memory_ratio"] <= 0.5,
        "read_p99_over_floor<=1.5": all(v <= 1.5 for v in ratios_["read_p99_over_floor"].values()),
    }
    if "server_speedup" in ratios_:
        out["server_speedup>=5"] = ratios_["server_speedup"] >= 5
        out["server_p99_b1_ms<=1.5"] = ratios_["server_p99_b1_ms"] <= 1.5
    return out


def show(r: dict[str, Any]) -> None:
    q = r["ratios"]
    rows = [
        (
            "materialize rows/s",
            r["materialize"]["stock"]["rows_per_s"],
            r["materialize"]["featurekit"]["rows_per_s"],
            q["materialize_speedup"],
        ),
        ("push rows/s", r["push"]["stock"]["rows_per_s"], r["push"]["featurekit"]["rows_per_s"], q["push_speedup"]),
        (
            "Redis bytes/entity",
            r["memory"]["stock_bytes_per_entity"],
            r["memory"]["featurekit_bytes_per_entity"],
            q["memory_ratio"],
        ),
    ]
    reads = r["read_ms"]
    for b in reads["stock"]:
        rows.append(
            (
                f"read b{b} p50 ms",
                reads["stock"][b]["p50"],
                reads["featurekit"][b]["p50"],
                ratio(reads["featurekit"][b]["p50"], reads["stock"][b]["p50"]),
            )
        )
        rows.append(
            (
                f"read b{b} p99 ms",
                reads["stock"][b]["p99"],
                reads["featurekit"][b]["p99"],
                ratio(reads["featurekit"][b]["p99"], reads["stock"][b]["p99"]),
            )
        )
    server = r.get("server") or {}
    if server:
        s, f = server["stock"], server["featurekit"]
        rows.append(
            (
                f"server req/s ({CONCURRENCY} clients)",
                s["concurrent_b1"]["rps"],
                f["concurrent_b1"]["rps"],
                q["server_speedup"],
            )
        )
        rows.append(
            (
                "server p99 ms (concurrent)",
                s["concurrent_b1"]["latency_ms"]["p99"],
                f["concurrent_b1"]["latency_ms"]["p99"],
                float("nan"),
            )
        )
        rows.append(
            (
                "server CPU ms per request (8 clients)",
                s["concurrent_b1"]["server_cpu_ms_per_request"],
                f["concurrent_b1"]["server_cpu_ms_per_request"],
                q["server_cpu_per_request_stock_over_featurekit"],
            )
        )
        rows.append(
            (
                "server p99 ms (sequential b1)",
                s["sequential_b1"]["latency_ms"]["p99"],
                f["sequential_b1"]["latency_ms"]["p99"],
                float("nan"),
            )
        )
        pool_only = server.get("featurekit_pool_only")
        if pool_only:
            rows.append(
                (
                    f"candidate every read on the pool req/s ({CONCURRENCY} clients)",
                    s["concurrent_b1"]["rps"],
                    pool_only["concurrent_b1"]["rps"],
                    q["candidate_pool_only_speedup"],
                )
            )
            rows.append(
                (
                    "candidate every read on the pool CPU ms per request",
                    s["concurrent_b1"]["server_cpu_ms_per_request"],
                    pool_only["concurrent_b1"]["server_cpu_ms_per_request"],
                    ratio(
                        s["concurrent_b1"]["server_cpu_ms_per_request"],
                        pool_only["concurrent_b1"]["server_cpu_ms_per_request"],
                    ),
                )
            )
        candidate = server.get("uvicorn_httptools")
        if candidate:
            rows.append(
                (
                    f"candidate uvicorn+httptools req/s ({CONCURRENCY} clients)",
                    s["concurrent_b1"]["rps"],
                    candidate["concurrent_b1"]["rps"],
                    q["candidate_uvicorn_speedup"],
                )
            )
            rows.append(
                (
                    "candidate uvicorn+httptools p99 ms (sequential b1)",
                    s["sequential_b1"]["latency_ms"]["p99"],
                    candidate["sequential_b1"]["latency_ms"]["p99"],
                    float("nan"),
                )
            )
    print_table(
        f"online store: stock Feast vs featurekit ({r['scale']})", ["metric", "stock", "featurekit", "ratio"], rows
    )
    floor_rows = [
        (
            f"b{b}",
            reads["floor_featurekit"][b]["p99"],
            reads["featurekit"][b]["p99"],
            q["read_p99_over_floor"][b],
            reads["floor_stock"][b]["p99"],
            reads["stock"][b]["p99"],
            q["stock_read_p99_over_floor"][b],
        )
        for b in reads["featurekit"]
    ]
    print_table(
        "read p99 vs raw redis-py floor (ms)",
        ["batch", "fk floor", "featurekit", "fk/floor", "stock floor", "stock", "stock/floor"],
        floor_rows,
    )
    print_table("targets", ["target", "met"], [(k, "yes" if v else "NO") for k, v in r["targets"].items()])


def chart(r: dict[str, Any], path: Path) -> None:
    reads = r["read_ms"]
    batches = list(reads["stock"])
    panels = [
        BarPanel(
            "write throughput (rows/s)",
            ["materialize", "push"],
            {
                "stock": [r["materialize"]["stock"]["rows_per_s"], r["push"]["stock"]["rows_per_s"]],
                "featurekit": [r["materialize"]["featurekit"]["rows_per_s"], r["push"]["featurekit"]["rows_per_s"]],
            },
            log=True,
        ),
        BarPanel(
            "Redis bytes per entity",
            ["memory"],
            {
                "stock": [r["memory"]["stock_bytes_per_entity"]],
                "featurekit": [r["memory"]["featurekit_bytes_per_entity"]],
            },
        ),
        BarPanel(
            "get_online_features p99 (ms)",
            [f"b{b}" for b in batches],
            {
                "stock": [reads["stock"][b]["p99"] for b in batches],
                "featurekit": [reads["featurekit"][b]["p99"] for b in batches],
                "redis-py floor (fk keys)": [reads["floor_featurekit"][b]["p99"] for b in batches],
            },
            log=True,
        ),
    ]
    if r.get("server"):
        s, f = r["server"]["stock"], r["server"]["featurekit"]
        panels.append(
            BarPanel(
                f"feature server req/s ({CONCURRENCY} clients, b1)",
                ["req/s"],
                {
                    "stock feast serve": [s["concurrent_b1"]["rps"]],
                    "featurekit serve": [f["concurrent_b1"]["rps"]],
                    **(
                        {"every read on the pool": [r["server"]["featurekit_pool_only"]["concurrent_b1"]["rps"]]}
                        if "featurekit_pool_only" in r["server"]
                        else {}
                    ),
                    **(
                        {"uvicorn+httptools (same app)": [r["server"]["uvicorn_httptools"]["concurrent_b1"]["rps"]]}
                        if "uvicorn_httptools" in r["server"]
                        else {}
                    ),
                },
            )
        )
    plot_panels(path, f"featurekit bench online ({r['scale']}: {r['entities']:,} entities, {r['rows']:,} rows)", panels)
