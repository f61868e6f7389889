"""The ML service side of the example: score cash-advance requests from online features.

A stand-in for the production model: a transparent rule over the ``cash_advance_v1`` vector, so the demo shows the
features doing their job (affordability, overdraft history, a fresh balance) and how long serving took.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
