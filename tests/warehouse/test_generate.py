"""The synthetic warehouse is deterministic and has the shapes the features rely on."""

from __future__ import annotations

from datetime import datetime

import pytest

from examples.cash_advance.warehouse import WarehouseSpec, generate
from featurekit import duckdb_utc

SPEC = WarehouseSpec(users=300, days=40, end=datetime(2026, 1, 1), seed=11)


@pytest.fixture(scope="module")
def warehouse():
    return generate(SPEC)


def test_same_seed_same_data(warehouse) -> None:
    again = generate(SPEC)
    for name, table in warehouse.tables().items():
        assert table.equals(again.tables()[name]), name
    other = generate(WarehouseSpec(users=300, days=40, end=datetime(2026, 1, 1), seed=12))
    assert not other.transactions.equals(warehouse.transactions)


def test_scale_knob_reaches_a_million_transactions() -> None:
    big = generate(WarehouseSpec(users=100_000, days=30, txn_per_user_day=0.3, end=datetime(2026, 1, 1)))
    assert big.transactions.num_rows >= 1_000_000
    assert big.users.num_rows == 100_000


def test_shapes(warehouse) -> None:
    con = duckdb_utc.connect()
    for name, table in warehouse.tables().items():
        con.register(name, table)

    def one(sql: str):
        return con.execute(sql).fetchone()

    # Everything happens inside the window and after signup.
    window = "SELECT max(ts) < TIMESTAMP '2026-01-01', min(ts) >= TIMESTAMP '2025-11-22' FROM transactions"
    assert one(window) == (True, True)
    assert one("SELECT count(*) FROM transactions t JOIN users u USING (user_id) WHERE t.ts < u.signup_at")[0] == 0
    # Paydays: employed users get payroll credits; unemployed users never do.
    payroll = dict(
        con.execute(
            """
            SELECT u.employment_type, count(t.txn_id) FROM users u
            LEFT JOIN transactions t ON t.user_id = u.user_id AND t.category = 'payroll' GROUP BY 1
            """
        ).fetchall()
    )
    assert payroll["salaried"] > 0 and payroll.get("unemployed", 0) == 0
    # Heavy users: the busiest 10% of users make far more than 10% of transactions.
    share = one(
        """
        WITH c AS (SELECT user_id, count(*) AS n FROM transactions GROUP BY 1),
             r AS (SELECT n, ntile(10) OVER (ORDER BY n DESC) AS d FROM c)
        SELECT sum(n) FILTER (WHERE d = 1) / sum(n) FROM r
        """
    )[0]
    assert share > 0.2
    # Running balances go negative sometimes (overdrafts) and each check reports the ledger balance.
    assert one("SELECT count(*) FROM transactions WHERE balance_after < 0")[0] > 0
    mismatches = one(
        """
        SELECT count(*) FROM balance_checks b
        JOIN LATERAL (SELECT balance_after FROM transactions t WHERE t.user_id = b.user_id AND t.ts <= b.checked_at
                      ORDER BY t.ts DESC LIMIT 1) l ON TRUE
        WHERE abs(l.balance_after - b.balance) > 0.005
        """
    )[0]
    assert mismatches == 0
    sources = dict(con.execute("SELECT source, count(*) FROM balance_checks GROUP BY 1").fetchall())
    assert sources["passive"] > sources["active"] > 0
