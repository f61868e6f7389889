"""Ratios, targets and the printed table of the Feast-API benchmark (:mod:`bench.feast_api`).

Besides the issue's wall-clock ratios (req/s, p99), the load-robust figures: CPU-ms per
``get_online_features(...).to_dict()`` call and per ``feast serve`` request, and the split of a server request into
Feast's own part and the store's part (:mod:`bench.feast_serve`).
"""

from __future__ import annotations

from typing import Any

from bench.report import print_table, ratio


def ratios(r: dict[str, Any]) -> dict[str, Any]:
    """Featurekit over stock under stable keys (speedups: higher is better; memory: lower is better)."""
    reads = r["read_ms"]
    out: dict[str, Any] = {
        "materialize_speedup": ratio(
            r["materialize"]["featurekit"]["rows_per_s"], r["materialize"]["stock"]["rows_per_s"]
        ),
        "write_to_online_store_speedup": ratio(
            r["write_to_online_store"]["featurekit"]["rows_per_s"], r["write_to_online_store"]["stock"]["rows_per_s"]
        ),
        "push_speedup": ratio(r["push"]["featurekit"]["rows_per_s"], r["push"]["stock"]["rows_per_s"]),
        "read_p99_speedup": {b: ratio(reads["stock"][b]["p99"], reads["featurekit"][b]["p99"]) for b in reads["stock"]},
        "read_p50_speedup": {b: ratio(reads["stock"][b]["p50"], reads["featurekit"][b]["p50"]) for b in reads["stock"]},
        "memory_ratio": {
            size: ratio(m["featurekit_bytes_per_entity"], m["stock_bytes_per_entity"])
            for size, m in r["memory"].items()
        },
    }
    if r.get("read_cpu_ms"):
        cpu = r["read_cpu_ms"]
        out["read_cpu_speedup"] = {b: ratio(cpu["stock"][b], cpu["featurekit"][b]) for b in cpu["stock"]}
    if r.get("server"):
        s, f = r["server"]["stock"], r["server"]["featurekit"]
        out["server_speedup"] = ratio(f["concurrent_b1"]["rps"], s["concurrent_b1"]["rps"])
        if "cpu_ms_per_request" in s["concurrent_b1"]:
            out["server_cpu_speedup"] = ratio(
                s["concurrent_b1"]["cpu_ms_per_request"], f["concurrent_b1"]["cpu_ms_per_request"]
            )
        if "cpu_split" in r["server"]:
            out["server_max_attainable_speedup"] = r["server"]["cpu_split"]["concurrent_b1"]["max_attainable_speedup"]
    return out


def targets(q: dict[str, Any]) -> dict[str, bool]:
    """The issue's targets for the Feast-API mode."""
    speed = q["read_p99_speedup"]
    out = {
        "materialize_speedup>=10": q["materialize_speedup"] >= 10,
        "write_to_online_store_speedup>=10": q["write_to_online_store_speedup"] >= 10,
        "push_speedup>=10": q["push_speedup"] >= 10,
        "read_p99_b1<=stock": speed.get("1", 0) >= 1,
        "read_p99_speedup_b100>=3": speed.get("100", 0) >= 3,
        "read_p99_speedup_b1000>=3": speed.get("1000", 0) >= 3,
    }
    for size, value in q["memory_ratio"].items():
        out[f"memory_ratio_{size}<=0.6"] = value <= 0.6
    if "server_speedup" in q:
        out["server_speedup>=2"] = q["server_speedup"] >= 2
    return out


def show(r: dict[str, Any]) -> None:
    q = r["ratios"]
    rows: list[tuple[Any, ...]] = [
        (
            "materialize rows/s",
            r["materialize"]["stock"]["rows_per_s"],
            r["materialize"]["featurekit"]["rows_per_s"],
            q["materialize_speedup"],
        )
    ]
    for phase in ("write_to_online_store", "push"):
        rows.append(
            (
                f"{phase} rows/s",
                r[phase]["stock"]["rows_per_s"],
                r[phase]["featurekit"]["rows_per_s"],
                q[f"{phase}_speedup"],
            )
        )
    for size, m in r["memory"].items():
        rows.append(
            (
                f"bytes/entity at {int(size):,}",
                m["stock_bytes_per_entity"],
                m["featurekit_bytes_per_entity"],
                q["memory_ratio"][size],
            )
        )
    reads = r["read_ms"]
    for b in reads["stock"]:
        for p in ("p50", "p99"):
            rows.append(
                (
                    f"read b{b} {p} ms",
                    reads["stock"][b][p],
                    reads["featurekit"][b][p],
                    ratio(reads["stock"][b][p], reads["featurekit"][b][p]),
                )
            )
    for b, value in q.get("read_cpu_speedup", {}).items():
        cpu = r["read_cpu_ms"]
        rows.append((f"read b{b} CPU ms/call", cpu["stock"][b], cpu["featurekit"][b], value))
    if r.get("server"):
        s, f = r["server"]["stock"], r["server"]["featurekit"]
        rows.append(("feast serve req/s", s["concurrent_b1"]["rps"], f["concurrent_b1"]["rps"], q["server_speedup"]))
        if "server_cpu_speedup" in q:
            rows.append(
                (
                    "feast serve CPU ms/request",
                    s["concurrent_b1"]["cpu_ms_per_request"],
                    f["concurrent_b1"]["cpu_ms_per_request"],
                    q["server_cpu_speedup"],
                )
            )
        split = r["server"].get("cpu_split", {}).get("concurrent_b1")
        if split:
            rows.append(
                (
                    "  of which the store (total - floor)",
                    split["stock_store_cpu_ms"],
                    split["featurekit_store_cpu_ms"],
                    split["store_cpu_speedup"],
                )
            )
            rows.append(
                (
                    "  Feast server floor / best possible ratio",
                    split["feast_server_cpu_ms"],
                    split["feast_server_cpu_ms"],
                    split["max_attainable_speedup"],
                )
            )
        for p in ("p50", "p99"):
            rows.append(
                (
                    f"feast serve sequential b1 {p} ms",
                    s["sequential_b1"]["latency_ms"][p],
                    f["sequential_b1"]["latency_ms"][p],
                    ratio(s["sequential_b1"]["latency_ms"][p], f["sequential_b1"]["latency_ms"][p]),
                )
            )
    print_table(
        f"Feast API: stock redis store vs featurekit store ({r['scale']})",
        ["metric", "stock", "featurekit", "speedup (memory: fk/stock)"],
        rows,
    )
    print_table("targets", ["target", "met"], [(k, "yes" if v else "NO") for k, v in r["targets"].items()])
