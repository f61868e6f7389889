-- user_balance_live (stream view) backfill: the latest balance check per user inside the interval, stamped
-- with the time it was observed. Ties on the same instant go to the later check_id.
SELECT
    user_id,
    balance,
    balance_source,
    balance_observed_at,
    event_timestamp
FROM (
    SELECT
        b.user_id,
        b.balance,
        b.source AS balance_source,
        CAST(floor(to_unixtime(b.checked_at)) AS BIGINT) AS balance_observed_at,
        b.checked_at AS event_timestamp,
        row_number() OVER (PARTITION BY b.user_id ORDER BY b.checked_at DESC, b.check_id DESC) AS rn
    FROM balance_checks AS b
    WHERE b.checked_at >= :data_interval_start
        AND b.checked_at < :data_interval_end
) AS latest
WHERE rn = 1
