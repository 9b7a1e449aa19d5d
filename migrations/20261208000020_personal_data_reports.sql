-- Personal data reporting (docs/OPERATIONS.md#personal-data-reporting): when each Atlassian
-- accountId Pageshare stores was last reported to Atlassian, so that an account is reported once
-- per cycle whatever the number of instances. A row goes when its account is no longer stored
-- anywhere, or is reported closed (and erased).
CREATE TABLE personal_data_report (
    account_id  text PRIMARY KEY,
    reported_at timestamptz NOT NULL
);
