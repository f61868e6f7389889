"""The example's hooks for ``featurekit demo`` and ``featurekit warehouse generate`` (contract in
``featurekit.demo.example``): its synthetic warehouse, and its own demo stages, run after the generic ones
(warehouse, apply, DAGs) and before freshness and consistency."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from examples.cash_advance.breakages import run_breakage_stage
from examples.cash_advance.service import score_requests
from examples.cash_advance.stream_demo import run_stream_stage
from examples.cash_advance.warehouse import Warehouse, WarehouseSpec, generate


def warehouse(*, users: int, days: int, end: datetime, seed: int, txn_per_user_day: float = 1.2) -> Warehouse:
    """The cash-advance warehouse: ``users``, ``transactions``, ``balance_checks``."""
    return generate(WarehouseSpec(users=users, days=days, end=end, seed=seed, txn_per_user_day=txn_per_user_day))


def stream_stage(settings: Any, options: Any, console: Any) -> None:
    run_stream_stage(settings, console)


def breakage_stage(settings: Any, options: Any, console: Any) -> None:
    run_breakage_stage(settings, console)


STAGES = [
    ("catch data breakages (drift, slice outage, empty source)", breakage_stage),
    ("stream balance + transaction events (jobs generated from feature_repo/)", stream_stage),
    ("serve cash-advance requests", score_requests),
]


# The pull requests of ``featurekit cicd demo``: (file in feature_repo/, old text, new text, feature).
CICD_EDITS = {
    "add": (
        "feature_views/transactions.py",
        '        Field(name="max_debit_24h", dtype=Float64, description="Largest single debit over 24 hours."),\n',
        '        Field(name="max_debit_24h", dtype=Float64, description="Largest single debit over 24 hours."),\n'
        '        Field(name="max_credit_24h", dtype=Float64, description="Largest single credit over 24 hours."),\n',
        "max_credit_24h",
    ),
    "breaking": (
        "feature_views/transactions.py",
        'Field(name="txn_count_30d", dtype=Int64',
        'Field(name="txn_count_30d", dtype=Float64',
        "txn_count_30d",
    ),
}
