"""Synthetic balance and transaction events of the cash-advance example: for its demo, the stream benchmark and
the streaming tests.

The shapes follow the warehouse generator (``examples.cash_advance.warehouse``): the same user id range, the
heavy-tailed activity per user, log-normal debit amounts over the same categories, occasional payroll credits, and
balance observations that are mostly pushed for free (``passive``) with some paid ``active`` checks. Poison records
(one of every dead-letter rule) can be mixed in at a given rate to exercise the dead-letter path. Topic names are
the ones ``feature_repo/data_sources.py`` declares.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from examples.cash_advance.warehouse import DEBIT_CATEGORIES, DEBIT_WEIGHTS, FIRST_USER_ID
from featurekit.config.settings import Settings
from featurekit.streaming.producer import EventProducer, iso
from featurekit.streaming.producer import encode as encode_keyed

BALANCE_TOPIC = "balance-events"
TRANSACTIONS_TOPIC = "transactions"
TOPICS = {"balances": BALANCE_TOPIC, "transactions": TRANSACTIONS_TOPIC}
BALANCE_JOB, TRANSACTIONS_JOB = "user_balance_live", "user_txn_1h"

# One poison record per rule; ``{user}`` and ``{ts}`` are filled in so the bytes are distinct per record.
POISON: dict[str, Sequence[str]] = {
    "unparseable": ('{"user_id": {user}, "balance": ', "not json at all {user}", "[{user}, 1.0]"),
    "missing_field": ('{"user_id": {user}, "event_timestamp": "{ts}"}',),
    "wrong_type": (
        '{"user_id": "u-{user}", "balance": 1.0, "balance_source": "passive", "txn_id": 1, "amount": 1.0, '
        '"category": "x", "event_timestamp": "{ts}"}',
        '{"user_id": {user}, "balance": "lots", "balance_source": "paid", "txn_id": "t", "amount": true, '
        '"category": 7, "event_timestamp": "{ts}"}',
    ),
    "impossible_timestamp": (
        '{"user_id": {user}, "balance": 1.0, "balance_source": "passive", "txn_id": 1, "amount": 1.0, '
        '"category": "x", "event_timestamp": "1970-01-01T00:00:00Z"}',
        '{"user_id": {user}, "balance": 1.0, "balance_source": "passive", "txn_id": 1, "amount": 1.0, '
        '"category": "x", "event_timestamp": "2999-01-01T00:00:00Z"}',
        '{"user_id": {user}, "balance": 1.0, "balance_source": "passive", "txn_id": 1, "amount": 1.0, '
        '"category": "x", "event_timestamp": "2026-13-45T99:00:00Z"}',
    ),
}


@dataclass
class EventGenerator:
    """Draws events for ``users`` users (ids from the warehouse's first id), deterministic for a seed."""

    users: int = 2_000
    seed: int = 7
    active_share: float = 0.13  # the warehouse's 0.15 active vs 1.0 passive checks per user-day
    first_txn_id: int = 1_000_000_000

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        activity = self.rng.lognormal(0.0, 0.8, self.users)
        self._p = activity / activity.sum()
        self._balance = np.round(self.rng.lognormal(np.log(400), 1.0, self.users) - 150, 2)
        self._next_txn = self.first_txn_id

    def user_ids(self, n: int) -> np.ndarray:
        return FIRST_USER_ID + self.rng.choice(self.users, n, p=self._p)

    def balances(self, n: int, at: Sequence[datetime] | datetime) -> list[dict[str, Any]]:
        """``n`` balance observations at ``at`` (one time, or one per event)."""
        idx = self.rng.choice(self.users, n, p=self._p)
        drift = np.round(self.rng.normal(0, 25, n), 2)
        self._balance[idx] += drift
        active = self.rng.random(n) < self.active_share
        times = _times(at, n)
        return [
            {
                "user_id": int(FIRST_USER_ID + i),
                "balance": float(round(self._balance[i], 2)),
                "balance_source": "active" if a else "passive",
                "event_timestamp": t,
            }
            for i, a, t in zip(idx.tolist(), active.tolist(), times, strict=False)
        ]

    def transactions(self, n: int, at: Sequence[datetime] | datetime) -> list[dict[str, Any]]:
        """``n`` transactions at ``at``: mostly log-normal debits, ~4% payroll credits."""
        users = self.user_ids(n)
        category = self.rng.choice(len(DEBIT_CATEGORIES), n, p=DEBIT_WEIGHTS)
        scale = np.where(DEBIT_CATEGORIES[category] == "rent", 900.0, 28.0)
        amount = -np.round(self.rng.lognormal(np.log(scale), 0.7), 2)
        payroll = self.rng.random(n) < 0.04
        amount = np.where(payroll, np.round(self.rng.lognormal(np.log(1400), 0.3, n), 2), amount)
        names = np.where(payroll, "payroll", DEBIT_CATEGORIES[category])
        times = _times(at, n)
        first, self._next_txn = self._next_txn, self._next_txn + n
        return [
            {"txn_id": first + k, "user_id": int(u), "amount": float(a), "category": str(c), "event_timestamp": t}
            for k, (u, a, c, t) in enumerate(zip(users.tolist(), amount.tolist(), names.tolist(), times, strict=False))
        ]

    def poison(self, n: int, at: datetime) -> list[tuple[str, bytes]]:
        """``n`` invalid records cycling through every rule: ``(rule, value bytes)``."""
        kinds = [(rule, template) for rule, templates in POISON.items() for template in templates]
        users = self.user_ids(n).tolist()
        out = []
        for k in range(n):
            rule, template = kinds[k % len(kinds)]
            text = template.replace("{user}", str(users[k])).replace("{ts}", iso(at))
            out.append((rule, text.encode()))
        return out


def _times(at: Sequence[datetime] | datetime, n: int) -> list[str]:
    if isinstance(at, datetime):
        return [iso(at)] * n
    return [iso(t) for t in at]


def encode(event: dict[str, Any]) -> tuple[bytes, bytes]:
    """(key, value): keyed by user so one user's events stay in one partition, in order."""
    return encode_keyed(event, ("user_id",))


@dataclass
class ProduceReport:
    topic: str
    valid: int
    poison: Counter[str]
    seconds: float


def produce_burst(
    settings: Settings,
    stream: str,
    *,
    events: int,
    users: int = 2_000,
    poison_rate: float = 0.0,
    rate_per_s: float | None = None,
    seed: int = 7,
    spread: timedelta = timedelta(0),
) -> ProduceReport:
    """Produce ``events`` events to the ``balances`` or ``transactions`` topic, stamped now (spread back over
    ``spread``), with ``poison_rate`` of them replaced by invalid records; optionally paced at ``rate_per_s``."""
    topic = TOPICS.get(stream)
    if topic is None:
        raise ValueError(f"unknown stream {stream!r}; expected one of {sorted(TOPICS)}")
    generator = EventGenerator(users=users, seed=seed)
    producer = EventProducer(settings)
    poison_count = round(events * poison_rate)
    valid_count = events - poison_count
    started = time.perf_counter()
    now = datetime.now(UTC)
    chunk = 5_000
    produced = 0
    poison: Counter[str] = Counter()
    bad = generator.poison(poison_count, now)
    bad_every = max(1, valid_count // poison_count) if poison_count else 0
    while produced < valid_count:
        n = min(chunk, valid_count - produced)
        stamps = [now - spread * (1 - (produced + i) / max(valid_count, 1)) for i in range(n)] if spread else now
        draw = generator.balances if stream == "balances" else generator.transactions
        for i, event in enumerate(draw(n, stamps)):
            key, value = encode(event)
            producer.send(topic, value, key)
            if bad_every and (produced + i) % bad_every == 0 and bad:
                rule, payload = bad.pop()
                producer.send(topic, payload, None)
                poison[rule] += 1
        produced += n
        if rate_per_s:
            ahead = produced / rate_per_s - (time.perf_counter() - started)
            if ahead > 0:
                time.sleep(ahead)
        now = datetime.now(UTC) if not spread else now
    for rule, payload in bad:
        producer.send(topic, payload, None)
        poison[rule] += 1
    producer.flush()
    return ProduceReport(topic, valid_count, poison, time.perf_counter() - started)
