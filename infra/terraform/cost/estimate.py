"""Monthly cost estimate of the featurekit AWS environments, from the online store's bytes per entity.

    python infra/terraform/cost/estimate.py                       # tables in docs/infrastructure.md
    python infra/terraform/cost/estimate.py --bytes-per-entity 190  # another measured figure

Prices are approximate us-east-1 on-demand list prices (see PRICES_AS_OF); verify them in the AWS Pricing
Calculator before budgeting. Only the Redis node choice depends on bytes per entity; every other line is
an explicit assumption below. tests/infra checks that docs/infrastructure.md shows this script's output.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

PRICES_AS_OF = "2025 list prices, recorded 2026-11-21"
HOURS = 730  # hours per month

# Bytes per entity for the benchmark's 20 features (3 views: 15 Float32 + 5 Int64), measured by `featurekit bench
# online` (Redis used_memory delta / entities, both stores in the same run; docs/performance.md).
STOCK_BYTES_PER_ENTITY = 491.3  # stock Feast 0.67: one Redis hash per entity
FEATUREKIT_BYTES_PER_ENTITY = 205.4  # featurekit: bucketed hashes of packed rows (0.42x stock)
BENCH_FEATURES = 20
TIER_FEATURES = {"hot": 10, "warm": 11}  # hot: user_balance_live 3 + user_txn_24h 4 + user_txn_1h 3; warm: 6 + 5

HEADROOM = 1.25  # growth and fragmentation
RESERVED = 0.25  # ElastiCache reserved-memory-percent (fork/replication buffer)
REPLICAS = 1  # prod: one replica per shard (Multi-AZ)

GIB = 1024**3

# name: ($/hour, memory GiB, SSD GiB)
REDIS_NODES = {
    "cache.t4g.small": (0.032, 1.37, 0),
    "cache.r7g.large": (0.219, 13.07, 0),
    "cache.r7g.xlarge": (0.437, 26.32, 0),
    "cache.r7g.2xlarge": (0.873, 52.82, 0),
    "cache.r7g.4xlarge": (1.745, 105.81, 0),
    "cache.r6gd.xlarge": (0.781, 26.32, 99.33),
    "cache.r6gd.2xlarge": (1.562, 52.82, 199.07),
    "cache.r6gd.4xlarge": (3.124, 105.81, 398.14),
}
HOT_LADDER = ["cache.r7g.large", "cache.r7g.xlarge", "cache.r7g.2xlarge", "cache.r7g.4xlarge"]
WARM_LADDER = ["cache.r6gd.xlarge", "cache.r6gd.2xlarge", "cache.r6gd.4xlarge"]

MSK_BROKER = {"kafka.t3.small": 0.0456, "kafka.m7g.large": 0.204}
MSK_STORAGE_GB_MONTH = 0.10
EMR_VCPU_HOUR = 0.042094  # EMR Serverless, ARM64
EMR_GB_HOUR = 0.004628
MWAA_ENV_HOUR = {"mw1.micro": 0.24, "mw1.small": 0.49}
MWAA_EXTRA_WORKER_HOUR = 0.055
S3_GB_MONTH = 0.018  # blend of Standard (0.023) and Intelligent-Tiering infrequent (0.0125)
ATHENA_TB = 5.0
LOGS_GB = 0.50
BACKUP_GB_MONTH = 0.085


@dataclass(frozen=True)
class Scale:
    entities: int
    label: str
    emr_vcpu_per_job: int  # driver + executors, 2 streaming jobs
    emr_gb_per_job: int
    mwaa_extra_workers: float  # average beyond the included one
    athena_tb: float  # materialization + training back-fills per month
    logs_gb: float
    msk_gb_per_broker: int


SCALES = (
    Scale(
        1_000_000,
        "1M",
        emr_vcpu_per_job=3,
        emr_gb_per_job=12,
        mwaa_extra_workers=0.25,
        athena_tb=0.6,
        logs_gb=40,
        msk_gb_per_broker=500,
    ),
    Scale(
        50_000_000,
        "50M",
        emr_vcpu_per_job=9,
        emr_gb_per_job=36,
        mwaa_extra_workers=2,
        athena_tb=30,
        logs_gb=120,
        msk_gb_per_broker=700,
    ),
)
OFFLINE_BYTES_PER_ENTITY_DAY = 640  # 16 parquet rows/entity/day x ~40 B (snappy); kept one year


def tier_gib(entities: int, bytes_per_entity: float, tier: str) -> float:
    """Redis memory a tier needs: N x B x (tier features / 20) x headroom / (1 - reserved)."""
    data = entities * bytes_per_entity * TIER_FEATURES[tier] / BENCH_FEATURES
    return data * HEADROOM / (1 - RESERVED) / GIB


def pick(ladder: list[str], need_gib: float, *, tiered: bool) -> tuple[str, int]:
    """Smallest node of the ladder that holds the tier, else shards of the largest."""
    for node in ladder:
        _, mem, ssd = REDIS_NODES[node]
        # Data tiering: values may live on SSD; keys and the hot ~20% stay in memory.
        capacity = mem + ssd if tiered else mem
        if need_gib <= capacity and (not tiered or need_gib * 0.2 <= mem):
            return node, 1
    node = ladder[-1]
    _, mem, ssd = REDIS_NODES[node]
    return node, math.ceil(need_gib / (mem + ssd if tiered else mem))


def redis_month(node: str, shards: int) -> float:
    return REDIS_NODES[node][0] * HOURS * shards * (1 + REPLICAS)


def prod_lines(scale: Scale, bytes_per_entity: float) -> list[tuple[str, str, float]]:
    hot_need = tier_gib(scale.entities, bytes_per_entity, "hot")
    warm_need = tier_gib(scale.entities, bytes_per_entity, "warm")
    hot, hot_shards = pick(HOT_LADDER, hot_need, tiered=False)
    warm, warm_shards = pick(WARM_LADDER, warm_need, tiered=True)
    offline_gb = scale.entities * OFFLINE_BYTES_PER_ENTITY_DAY * 365 / 1e9
    emr = 2 * (scale.emr_vcpu_per_job * EMR_VCPU_HOUR + scale.emr_gb_per_job * EMR_GB_HOUR) * HOURS
    backups_gb = (hot_need + warm_need) * 0.6 * 6  # 7 daily snapshots, the first is free
    return [
        ("Redis hot", f"{hot_need:.1f} GiB -> {hot_shards}x{hot} + replica", redis_month(hot, hot_shards)),
        (
            "Redis warm (data tiering)",
            f"{warm_need:.1f} GiB -> {warm_shards}x{warm} + replica",
            redis_month(warm, warm_shards),
        ),
        ("Redis backups", f"{backups_gb:.0f} GB", backups_gb * BACKUP_GB_MONTH),
        (
            "MSK",
            f"3x kafka.m7g.large, {scale.msk_gb_per_broker} GB each",
            3 * (MSK_BROKER["kafka.m7g.large"] * HOURS + scale.msk_gb_per_broker * MSK_STORAGE_GB_MONTH),
        ),
        ("EMR Serverless (2 jobs, 24x7)", f"{scale.emr_vcpu_per_job} vCPU/{scale.emr_gb_per_job} GB per job", emr),
        (
            "MWAA",
            f"mw1.small + {scale.mwaa_extra_workers:g} extra workers avg",
            (MWAA_ENV_HOUR["mw1.small"] + scale.mwaa_extra_workers * MWAA_EXTRA_WORKER_HOUR) * HOURS,
        ),
        ("S3 offline store", f"{offline_gb:,.0f} GB after a year", offline_gb * S3_GB_MONTH),
        ("Athena", f"{scale.athena_tb:g} TB scanned", scale.athena_tb * ATHENA_TB),
        ("CloudWatch Logs", f"{scale.logs_gb:g} GB", scale.logs_gb * LOGS_GB),
        ("KMS, Secrets Manager, small buckets", "1 key, ~3 secrets", 5.0),
    ]


def dev_lines() -> list[tuple[str, str, float]]:
    emr = 2 * (2 * EMR_VCPU_HOUR + 8 * EMR_GB_HOUR) * 200  # jobs run ~200 h/month
    return [
        ("Redis hot + warm", "2x cache.t4g.small, no replicas", 2 * REDIS_NODES["cache.t4g.small"][0] * HOURS),
        (
            "MSK",
            "2x kafka.t3.small, 20 GB each",
            2 * (MSK_BROKER["kafka.t3.small"] * HOURS + 20 * MSK_STORAGE_GB_MONTH),
        ),
        ("EMR Serverless", "2 jobs x 2 vCPU/8 GB, ~200 h", emr),
        ("MWAA", "mw1.micro", MWAA_ENV_HOUR["mw1.micro"] * HOURS),
        ("S3, Athena, logs, KMS, secrets", "sample data", 20.0),
    ]


def table(lines: list[tuple[str, str, float]]) -> str:
    rows = ["| item | sizing | $/month |", "|---|---|---:|"]
    rows += [f"| {item} | {sizing} | {cost:,.0f} |" for item, sizing, cost in lines]
    rows.append(f"| **total** | | **{sum(c for _, _, c in lines):,.0f}** |")
    return "\n".join(rows)


def report(bytes_per_entity: float, label: str) -> str:
    parts = []
    for scale in SCALES:
        parts.append(f"#### prod, {scale.label} entities, {bytes_per_entity:g} B/entity ({label})\n")
        parts.append(table(prod_lines(scale, bytes_per_entity)) + "\n")
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bytes-per-entity", type=float, help="measured online-store bytes per entity (20 features)")
    args = parser.parse_args()
    print(f"Prices: approximate us-east-1 on-demand, {PRICES_AS_OF}.\n")
    print("#### dev (any scale: dev holds a sample)\n")
    print(table(dev_lines()) + "\n")
    if args.bytes_per_entity:
        print(report(args.bytes_per_entity, "measured"))
    else:
        print(report(STOCK_BYTES_PER_ENTITY, "measured, stock Feast"))
        print(report(FEATUREKIT_BYTES_PER_ENTITY, "measured, featurekit"))


if __name__ == "__main__":
    main()
