-- Personal data reporting (docs/OPERATIONS.md#personal-data-reporting): when each Atlassian
-- accountId Pageshare stores was last reported to Atlassian, so that an account is reported once
-- per cycle whatever the number of instances. A row goes when its account is no longer stored
-- anywhere, or is reported closed (and erased).
CREATE TABLE personal_data_report (
    account_id  text PRIMARY KEY,
    reported_at timestamptz NOT NULL
);

-- What the API last asked of the app, for every instance and across restarts: its reporting
-- cycle (`Cycle-Period`, in days; none: 7 days), and after a `429` when to try again.
CREATE TABLE personal_data_state (
    single     boolean PRIMARY KEY DEFAULT true CHECK (single),
    cycle_days integer CHECK (cycle_days BETWEEN 1 AND 90),
    retry_at   timestamptz
);
