-- user_txn_24h: last-24-hour activity per user as of the end of the run's (hourly) interval.
SELECT
    u.user_id,
    COUNT(t.txn_id) AS txn_count_24h,
    COALESCE(SUM(CASE WHEN t.amount < 0 THEN -t.amount END), 0.0) AS spend_24h,
    COALESCE(SUM(CASE WHEN t.amount > 0 THEN t.amount END), 0.0) AS income_24h,
    COALESCE(MAX(CASE WHEN t.amount < 0 THEN -t.amount END), 0.0) AS max_debit_24h,
    :data_interval_end AS event_timestamp
FROM users AS u
LEFT JOIN transactions AS t
    ON t.user_id = u.user_id
    AND t.ts >= :data_interval_end - INTERVAL '24' HOUR
    AND t.ts < :data_interval_end
WHERE u.signup_at < :data_interval_end
GROUP BY u.user_id
