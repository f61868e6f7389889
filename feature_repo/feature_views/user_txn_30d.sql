-- user_txn_30d: 30-day transaction aggregates per user as of the end of the run's interval.
-- Users without transactions get zero counts (LEFT JOIN), not missing rows.
SELECT
    u.user_id,
    COUNT(t.txn_id) AS txn_count_30d,
    COALESCE(SUM(CASE WHEN t.amount < 0 THEN -t.amount END), 0.0) AS spend_30d,
    COALESCE(SUM(CASE WHEN t.amount > 0 THEN t.amount END), 0.0) AS income_30d,
    COALESCE(AVG(abs(t.amount)), 0.0) AS avg_txn_amount_30d,
    -- An overdraft is a transaction that takes a non-negative balance below zero.
    CAST(SUM(CASE WHEN t.balance_after < 0 AND t.balance_after - t.amount >= 0 THEN 1 ELSE 0 END) AS BIGINT)
        AS overdraft_count_30d,
    :data_interval_end AS event_timestamp
FROM users AS u
LEFT JOIN transactions AS t
    ON t.user_id = u.user_id
    AND t.ts >= :data_interval_end - INTERVAL '30' DAY
    AND t.ts < :data_interval_end
WHERE u.signup_at < :data_interval_end
GROUP BY u.user_id
