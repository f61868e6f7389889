"""Synthetic warehouse for the cash-advance example: users, transactions, balance checks.

Deterministic for a seed and an end time, vectorized with numpy so a benchmark-size warehouse (1M+ transactions)
builds in seconds. Shapes that matter for the features are modelled: paydays on each user's pay schedule, a
heavy-tailed activity rate (a few heavy users), running balances that go negative (overdrafts), and balance
observations that are mostly pushed for free (``passive``) with some paid ``active`` checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

US_PER_DAY = 86_400_000_000
US_PER_HOUR = 3_600_000_000
FIRST_USER_ID = 100_001

EMPLOYMENT = np.array(["salaried", "gig", "unemployed"])
PAY_FREQUENCY = np.array(["weekly", "biweekly", "monthly"])
PAY_PERIOD_DAYS = np.array([7, 14, 30])
# State of residence: a slice column for sub-population monitoring (a skewed mix, like a real customer base).
STATES = np.array(["CA", "TX", "FL", "NY", "IL", "PA", "OH", "GA"])
STATE_WEIGHTS = np.array([0.24, 0.18, 0.14, 0.12, 0.09, 0.08, 0.08, 0.07])
DEBIT_CATEGORIES = np.array(["groceries", "dining", "transport", "shopping", "utilities", "rent", "transfer_out"])
DEBIT_WEIGHTS = np.array([0.30, 0.22, 0.15, 0.15, 0.08, 0.03, 0.07])


@dataclass(frozen=True)
class WarehouseSpec:
    """The scale knob: how many users over how many days, ending at ``end`` (exclusive), from ``seed``."""

    users: int = 2_000
    days: int = 35
    end: datetime = datetime(2026, 1, 1)
    seed: int = 7
    txn_per_user_day: float = 1.2
    passive_checks_per_user_day: float = 1.0
    active_checks_per_user_day: float = 0.15

    @property
    def start(self) -> datetime:
        return self.end - timedelta(days=self.days)


@dataclass(frozen=True)
class Warehouse:
    """The three warehouse tables as Arrow tables (timestamps: naive UTC, microseconds, as Athena stores them)."""

    users: pa.Table
    transactions: pa.Table
    balance_checks: pa.Table

    def tables(self) -> dict[str, pa.Table]:
        return {"users": self.users, "transactions": self.transactions, "balance_checks": self.balance_checks}


def generate(spec: WarehouseSpec) -> Warehouse:
    """Build the synthetic warehouse for ``spec``."""
    rng = np.random.default_rng(spec.seed)
    end_us = _to_us(spec.end)
    start_us = end_us - spec.days * US_PER_DAY
    users, user_arrays = _users(rng, spec, start_us, end_us)
    txns, txn_arrays = _transactions(rng, spec, user_arrays, end_us)
    checks = _balance_checks(rng, spec, user_arrays, txn_arrays, end_us)
    return Warehouse(users=users, transactions=txns, balance_checks=checks)


def _to_us(moment: datetime) -> int:
    return int(np.datetime64(moment.replace(tzinfo=None), "us").astype(np.int64))


def _timestamps(values_us: np.ndarray) -> pa.Array:
    return pa.array(values_us.astype("datetime64[us]"), type=pa.timestamp("us"))


def _users(rng: np.random.Generator, spec: WarehouseSpec, start_us: int, end_us: int):
    n = spec.users
    user_id = np.arange(FIRST_USER_ID, FIRST_USER_ID + n, dtype=np.int64)
    # Most users signed up before the window; ~8% join during it (they have short histories).
    before = rng.random(n) < 0.92
    signup = np.where(
        before,
        start_us - rng.integers(1, 3 * 365, n) * US_PER_DAY - rng.integers(0, US_PER_DAY, n),
        rng.integers(start_us, end_us - US_PER_DAY, n),
    )
    age_days = rng.integers(18 * 365 + 5, 66 * 365, n)
    birth_date = (end_us // US_PER_DAY - age_days).astype("datetime64[D]")
    employment = rng.choice(len(EMPLOYMENT), n, p=[0.6, 0.3, 0.1])
    pay_freq = rng.choice(len(PAY_FREQUENCY), n, p=[0.2, 0.5, 0.3])
    income = np.round(rng.lognormal(np.log(2_800), 0.45, n) * np.where(employment == 2, 0.35, 1.0), 2)
    # Heavy-tailed activity: most users a little, a few a lot.
    activity = rng.lognormal(0.0, 0.8, n)
    activity = activity / activity.mean() * spec.txn_per_user_day
    # Drawn from a generator of its own, so adding the column left every other table exactly as it was.
    state = np.random.default_rng([spec.seed, 1]).choice(len(STATES), n, p=STATE_WEIGHTS)
    table = pa.table(
        {
            "user_id": pa.array(user_id),
            "signup_at": _timestamps(signup),
            "birth_date": pa.array(birth_date, type=pa.date32()),
            "employment_type": pa.array(EMPLOYMENT[employment]),
            "pay_frequency": pa.array(PAY_FREQUENCY[pay_freq]),
            "declared_monthly_income": pa.array(income),
            "state": pa.array(STATES[state]),
            "updated_at": _timestamps(signup),
        }
    )
    arrays = {
        "user_id": user_id,
        "signup": signup,
        "pay_period": PAY_PERIOD_DAYS[pay_freq],
        "income": income,
        "activity": activity,
        "employed": employment != 2,
        "start_us": np.maximum(signup, start_us),
    }
    return table, arrays


def _transactions(rng: np.random.Generator, spec: WarehouseSpec, users: dict, end_us: int):
    active_days = (end_us - users["start_us"]) / US_PER_DAY
    # Debits: Poisson count per user, daytime-weighted timestamps, log-normal amounts.
    n_debits = rng.poisson(users["activity"] * active_days)
    debit_user = np.repeat(np.arange(len(n_debits)), n_debits)
    day_offset = rng.random(debit_user.size) * (end_us - users["start_us"][debit_user])
    ts = users["start_us"][debit_user] + day_offset.astype(np.int64)
    # Pull timestamps toward daytime: shift night-time (0-6h) events forward by 8 hours when it stays in range.
    hour = (ts % US_PER_DAY) // US_PER_HOUR
    shifted = ts + 8 * US_PER_HOUR
    ts = np.where((hour < 6) & (shifted < end_us), shifted, ts)
    category = rng.choice(len(DEBIT_CATEGORIES), debit_user.size, p=DEBIT_WEIGHTS)
    scale = np.where(DEBIT_CATEGORIES[category] == "rent", 900.0, 28.0)
    debit_amount = -np.round(rng.lognormal(np.log(scale), 0.7), 2)

    # Paydays: one credit per pay period from a per-user phase, for employed users.
    periods = users["pay_period"]
    phase = rng.integers(0, periods) * US_PER_DAY + 6 * US_PER_HOUR + rng.integers(0, US_PER_HOUR, periods.size)
    n_pay = np.where(users["employed"], np.ceil(active_days / periods).astype(np.int64) + 1, 0)
    pay_user = np.repeat(np.arange(len(n_pay)), n_pay)
    pay_index = np.arange(pay_user.size) - np.repeat(np.cumsum(n_pay) - n_pay, n_pay)
    pay_ts = users["start_us"][pay_user] + phase[pay_user] + pay_index * periods[pay_user] * US_PER_DAY
    per_pay = users["income"][pay_user] * periods[pay_user] / 30.0
    pay_amount = np.round(per_pay * rng.normal(1.0, 0.05, pay_user.size), 2)
    keep = pay_ts < end_us
    pay_user, pay_ts, pay_amount = pay_user[keep], pay_ts[keep], pay_amount[keep]

    user_idx = np.concatenate([debit_user, pay_user])
    ts_all = np.concatenate([ts, pay_ts])
    amount = np.concatenate([debit_amount, pay_amount])
    cats = np.concatenate([DEBIT_CATEGORIES[category], np.full(pay_user.size, "payroll")])

    order = np.lexsort((ts_all, user_idx))
    user_idx, ts_all, amount, cats = user_idx[order], ts_all[order], amount[order], cats[order]
    # Running balance per user from a random opening balance.
    opening = np.round(rng.lognormal(np.log(400), 1.0, len(users["user_id"])) - 150, 2)
    running = np.cumsum(amount)
    first = np.r_[0, np.flatnonzero(np.diff(user_idx)) + 1] if user_idx.size else np.array([], dtype=np.int64)
    group_offset = np.zeros(user_idx.size)
    if user_idx.size:
        counts = np.diff(np.r_[first, user_idx.size])
        before_group = np.r_[0.0, running[first[1:] - 1]]
        group_offset = np.repeat(before_group, counts)
    balance_after = np.round(opening[user_idx] + running - group_offset, 2)

    # txn ids follow time order, as a ledger sequence would.
    txn_id = np.empty(user_idx.size, dtype=np.int64)
    txn_id[np.argsort(ts_all, kind="stable")] = np.arange(1, user_idx.size + 1)
    table = pa.table(
        {
            "txn_id": pa.array(txn_id),
            "user_id": pa.array(users["user_id"][user_idx]),
            "ts": _timestamps(ts_all),
            "amount": pa.array(amount),
            "category": pa.array(cats),
            "balance_after": pa.array(balance_after),
        }
    )
    arrays = {"user_idx": user_idx, "ts": ts_all, "balance_after": balance_after, "opening": opening}
    return table, arrays


def _balance_checks(rng: np.random.Generator, spec: WarehouseSpec, users: dict, txns: dict, end_us: int):
    active_days = (end_us - users["start_us"]) / US_PER_DAY
    n_passive = rng.poisson(spec.passive_checks_per_user_day * active_days)
    n_active = rng.poisson(spec.active_checks_per_user_day * active_days)
    n_checks = n_passive + n_active
    check_user = np.repeat(np.arange(n_checks.size), n_checks)
    index_in_user = np.arange(check_user.size) - np.repeat(np.cumsum(n_checks) - n_checks, n_checks)
    is_active = index_in_user >= n_passive[check_user]
    offset = (rng.random(check_user.size) * (end_us - users["start_us"][check_user])).astype(np.int64)
    checked_at = users["start_us"][check_user] + offset
    # The balance observed is the running balance after the user's last transaction before the check.
    # Pack (user, millisecond offset) into one sortable int64: 2**36 ms is ~795 days of history per user.
    origin = int(min(users["start_us"].min(), end_us))
    txn_key = (txns["user_idx"].astype(np.int64) << 36) | ((txns["ts"] - origin) // 1000)
    check_key = (check_user.astype(np.int64) << 36) | ((checked_at - origin) // 1000)
    pos = np.searchsorted(txn_key, check_key, side="right") - 1
    same_user = (pos >= 0) & (txns["user_idx"][np.clip(pos, 0, None)] == check_user)
    balance = np.where(same_user, txns["balance_after"][np.clip(pos, 0, None)], txns["opening"][check_user])
    order = np.argsort(checked_at, kind="stable")
    return pa.table(
        {
            "check_id": pa.array(np.arange(1, check_user.size + 1, dtype=np.int64)),
            "user_id": pa.array(users["user_id"][check_user][order]),
            "checked_at": _timestamps(checked_at[order]),
            "balance": pa.array(np.round(balance[order], 2)),
            "source": pa.array(np.where(is_active[order], "active", "passive")),
        }
    )
