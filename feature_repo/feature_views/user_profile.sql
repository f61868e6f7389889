-- user_profile: one snapshot row per user signed up before the end of the run's interval.
-- Dialect: Athena (Trino). :data_interval_start / :data_interval_end are the run's interval bounds.
SELECT
    u.user_id,
    CAST(date_diff('day', u.signup_at, :data_interval_end) AS BIGINT) AS account_age_days,
    CAST(floor(date_diff('day', u.birth_date, :data_interval_end) / 365.25) AS BIGINT) AS age_years,
    u.employment_type,
    u.pay_frequency,
    u.declared_monthly_income,
    u.state,
    :data_interval_end AS event_timestamp
FROM users AS u
WHERE u.signup_at < :data_interval_end
