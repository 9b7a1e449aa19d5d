-- Readership: views of each share per UTC day, by how the reader got in, and the day's unique
-- readers. Instances add their in-memory counts to a row (an upsert under the row's lock).
CREATE TABLE share_daily_views (
    share_uuid      uuid NOT NULL REFERENCES shared_page (uuid) ON DELETE CASCADE,
    day             date NOT NULL,
    open_views      bigint NOT NULL DEFAULT 0,
    password_views  bigint NOT NULL DEFAULT 0,
    unlock_views    bigint NOT NULL DEFAULT 0,
    cookie_views    bigint NOT NULL DEFAULT 0,
    unique_readers  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (share_uuid, day)
);

-- The readers of a share's recent days: 16-byte HMACs of client address and user agent under a
-- salt of the day that is never stored. A hash new to its row adds one to `unique_readers`, so
-- instances counting the same reader count them once. Deleted once their day is over.
CREATE TABLE share_daily_reader (
    share_uuid  uuid NOT NULL REFERENCES shared_page (uuid) ON DELETE CASCADE,
    day         date NOT NULL,
    reader      bytea NOT NULL CHECK (octet_length(reader) = 16),
    PRIMARY KEY (share_uuid, day, reader)
);

CREATE INDEX share_daily_reader_by_day ON share_daily_reader (day);
