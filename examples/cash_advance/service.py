"""The ML service side of the example: score cash-advance requests from online features.

A stand-in for the production model: a transparent rule over the ``cash_advance_v1`` vector, so the demo shows the
features doing their job (affordability, overdraft history, a fresh balance) and how long serving took.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from featurekit.config import Settings

MIN_INCOME_30D = 800.0
MAX_OVERDRAFTS_30D = 3
MAX_AMOUNT_TO_INCOME = 0.25
MAX_AMOUNT_TO_BALANCE = 2.0


@dataclass(frozen=True)
class Decision:
    user_id: int
    requested_amount: float
    approved: bool
    reason: str


def decide(user_id: int, requested_amount: float, features: dict[str, Any]) -> Decision:
    """Approve when income is steady, overdrafts are rare and the amount is small against income and balance."""

    def value(name: str) -> Any:
        return features.get(name)

    income = value("income_30d")
    if income is None:
        return Decision(user_id, requested_amount, False, "no income data")
    if income < MIN_INCOME_30D:
        return Decision(user_id, requested_amount, False, f"income {income:.0f} < {MIN_INCOME_30D:.0f}")
    overdrafts = value("overdraft_count_30d") or 0
    if overdrafts > MAX_OVERDRAFTS_30D:
        return Decision(user_id, requested_amount, False, f"{overdrafts} overdrafts")
    balance = value("balance")
    if balance is not None and balance < 0:
        return Decision(user_id, requested_amount, False, "overdrawn")
    to_income = value("amount_to_income")
    if to_income is not None and to_income > MAX_AMOUNT_TO_INCOME:
        return Decision(user_id, requested_amount, False, f"{to_income:.0%} of income")
    to_balance = value("amount_to_balance")
    if to_balance is not None and to_balance > MAX_AMOUNT_TO_BALANCE:
        return Decision(user_id, requested_amount, False, f"{to_balance:.1f}x balance")
    return Decision(user_id, requested_amount, True, "affordable")


FEATURE_SERVICE = "cash_advance_v1"
# (feature, column header) shown per request; the full vector is what the model reads.
SHOWN_FEATURES = (
    ("income_30d", "income 30d"),
    ("overdraft_count_30d", "overdrafts"),
    ("balance", "balance"),
    ("amount_to_income", "amt/income"),
    ("amount_to_balance", "amt/bal"),
)


def score_requests(settings: Settings, options: Any, console: Console) -> None:
    """Play the ML service: one ``get_online_features`` call per request on the fast read path."""
    from featurekit.repo.feast_config import feature_store
    from featurekit.serving import OnlineFeatureReader

    reader = OnlineFeatureReader.from_feature_store(feature_store(settings))
    service = reader.feature_service(FEATURE_SERVICE)
    first_user = 100_001
    step = max(1, options.users // options.requests)
    amounts = (100.0, 250.0, 500.0, 750.0, 1_000.0, 1_500.0)
    requests = [(first_user + i * step, amounts[i % len(amounts)]) for i in range(options.requests)]
    table = Table(title=f"cash-advance decisions ({FEATURE_SERVICE})")
    for column in ("user", "amount", *(header for _, header in SHOWN_FEATURES), "balance age", "decision", "ms"):
        table.add_column(column, overflow="fold")
    latencies = []
    for user_id, amount in requests:
        started = time.perf_counter()
        result = reader.get_online_features(
            features=service,
            entity_rows=[{"user_id": user_id, "requested_amount": amount}],
            include_event_timestamps=True,
        )
        latencies.append((time.perf_counter() - started) * 1000)
        features = {name: values[0] for name, values in result.to_dict().items()}
        balance_age = result.ages_seconds().get("user_balance_live", [None])[0]
        decision = decide(user_id, amount, features)
        table.add_row(
            str(user_id),
            f"{amount:,.0f}",
            *(_fmt(features.get(name)) for name, _ in SHOWN_FEATURES),
            "-" if balance_age is None else f"{balance_age / 3600:.1f} h",
            "[green]approve[/]" if decision.approved else f"[red]decline[/]: {decision.reason}",
            f"{latencies[-1]:.2f}",
        )
    reader.close()
    console.print(table)
    warm = latencies[1:] or latencies
    console.print(
        f"  get_online_features (fast path, {len(service.feature_view_projections)} feature views incl. on-demand): "
        f"first call {latencies[0]:.2f} ms, then p50 {statistics.median(warm):.2f} ms, max {max(warm):.2f} ms"
    )


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)
