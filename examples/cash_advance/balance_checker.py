"""Should the ML service pay for an active balance check? Only when no fresh enough balance is in the online store.

The bank-data provider pushes balance updates for free at unpredictable times (``passive``); an ``active`` check
is a paid API call. The stream keeps ``user_balance_live`` (balance, its source, and ``balance_observed_at``, the
unix second it was observed) in the online store, so before paying the service asks: is the balance we already
hold younger than the maximum age the decision tolerates? Age is measured from when the balance was *observed*,
not when it was written, so a replayed or late event never makes an old balance look fresh.

Usage::

    checker = BalanceChecker.from_feature_store(feature_store(settings), max_age=timedelta(minutes=15))
    decision = checker.decide([user_id])[0]
    balance = decision.balance if not decision.paid_check_needed else call_paid_balance_api(user_id)
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

VIEW = "user_balance_live"
FEATURES = [f"{VIEW}:balance", f"{VIEW}:balance_source", f"{VIEW}:balance_observed_at"]


@dataclass(frozen=True)
class BalanceDecision:
    """For one user: the stored balance (if any), its age, and whether a paid check is needed."""

    user_id: int
    paid_check_needed: bool
    reason: str  # "fresh", "stale" or "missing"
    balance: float | None = None
    balance_source: str | None = None
    age_s: float | None = None


@dataclass
class BalanceChecker:
    """Decides per user whether the stored balance is fresh enough; counts the paid calls it avoided.

    ``reader`` is anything with Feast's ``get_online_features(features=..., entity_rows=...)`` returning an object
    with ``to_dict()``: the kit's fast :class:`featurekit.serving.OnlineFeatureReader` or a ``feast.FeatureStore``.
    """

    reader: Any
    max_age: timedelta
    clock: Callable[[], float] = time.time
    tally: Counter[str] = field(default_factory=Counter)

    @classmethod
    def from_feature_store(cls, store: Any, max_age: timedelta, **kwargs: Any) -> BalanceChecker:
        """A checker over the fast read path sharing ``store``'s config and registry (Feast's reader if the fast
        path cannot be built)."""
        try:
            from featurekit.serving import OnlineFeatureReader

            reader: Any = OnlineFeatureReader.from_feature_store(store)
        except ImportError:
            reader = store
        return cls(reader=reader, max_age=max_age, **kwargs)

    def decide(self, user_ids: Sequence[int]) -> list[BalanceDecision]:
        if not user_ids:
            return []
        response = self.reader.get_online_features(
            features=FEATURES, entity_rows=[{"user_id": int(u)} for u in user_ids]
        ).to_dict()
        now = self.clock()
        limit = self.max_age.total_seconds()
        decisions = []
        for i, user in enumerate(user_ids):
            balance = response["balance"][i]
            observed = response["balance_observed_at"][i]
            if balance is None or observed is None:
                decision = BalanceDecision(int(user), True, "missing")
            else:
                age = max(0.0, now - float(observed))
                fresh = age <= limit
                decision = BalanceDecision(
                    int(user),
                    paid_check_needed=not fresh,
                    reason="fresh" if fresh else "stale",
                    balance=float(balance),
                    balance_source=response["balance_source"][i],
                    age_s=age,
                )
            self.tally[decision.reason] += 1
            decisions.append(decision)
        return decisions

    @property
    def paid_calls_avoided(self) -> int:
        return self.tally["fresh"]

    @property
    def paid_calls_made(self) -> int:
        return self.tally["stale"] + self.tally["missing"]
