-- user_txn_1h (stream view) backfill: one-hour counters as of the end of the interval, for users active in
-- that last hour. The streaming job keeps the view fresh between runs.
SELECT
    t.user_id,
    COUNT(*) AS txn_count_1h,
    COALESCE(SUM(CASE WHEN t.amount < 0 THEN -t.amount END), 0.0) AS spend_1h,
    COALESCE(SUM(CASE WHEN t.amount > 0 THEN t.amount END), 0.0) AS income_1h,
    :data_interval_end AS event_timestamp
FROM transactions AS t
WHERE t.ts >= :data_interval_end - INTERVAL '1' HOUR
    AND t.ts < :data_interval_end
GROUP BY t.user_id
