-- The audit log (docs/SECURITY.md): who did what to a site's shares and credentials. One row per
-- event, written in the transaction of the change it records; deleted with its tenant.
CREATE TABLE audit_entry (
    -- Ascending with insertion: the order the log is read in (newest first) and its cursor.
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_key text NOT NULL REFERENCES installation (client_key) ON DELETE CASCADE,
    at         timestamptz NOT NULL DEFAULT now(),
    -- A Confluence accountId, or `apikey:<uuid>` when an API key acted.
    actor      text NOT NULL,
    action     text NOT NULL,
    share_uuid uuid,
    -- Words about the event; never a password, an unlock secret or an API key.
    detail     text NOT NULL DEFAULT ''
);

CREATE INDEX audit_entry_by_tenant ON audit_entry (client_key, id);

-- The first use of an API key is audited once: the background write that records its use sets
-- this column only while it is empty. Keys already used count as first used then.
ALTER TABLE api_key ADD COLUMN first_used_at timestamptz;
UPDATE api_key SET first_used_at = last_used_at;
