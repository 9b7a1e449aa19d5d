-- API keys: a site's automation calls the Web API with `Authorization: Bearer psk_…`. Only the
-- key's SHA-256 is stored; the key itself is shown once, when it is created.
CREATE TABLE api_key (
    id           uuid PRIMARY KEY,
    client_key   text NOT NULL REFERENCES installation (client_key) ON DELETE CASCADE,
    name         text NOT NULL,
    -- SHA-256 of the whole key text; looked up by equality, never the key.
    key_hash     bytea NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
    scopes       text[] NOT NULL,
    -- The site admin who created the key: shares created with it are theirs.
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    -- Written at most once a minute per key per instance, in the background.
    last_used_at timestamptz,
    revoked_at   timestamptz
);

CREATE INDEX api_key_by_tenant ON api_key (client_key, created_at);

-- Instances keep keys in memory by hash: a revocation (or a deleted key) reaches all of them
-- through the share change channel. Writing `last_used_at` notifies nobody.
CREATE FUNCTION pageshare_notify_api_key_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pageshare_share_changed', 'api-keys');
    RETURN NULL;
END
$$;

CREATE TRIGGER api_key_changed
    AFTER UPDATE ON api_key
    FOR EACH ROW
    WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
       OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
       OR OLD.scopes IS DISTINCT FROM NEW.scopes
       OR OLD.key_hash IS DISTINCT FROM NEW.key_hash)
    EXECUTE FUNCTION pageshare_notify_api_key_changed();

CREATE TRIGGER api_key_deleted
    AFTER DELETE ON api_key
    FOR EACH ROW EXECUTE FUNCTION pageshare_notify_api_key_changed();

CREATE TRIGGER api_key_truncated
    AFTER TRUNCATE ON api_key
    FOR EACH STATEMENT EXECUTE FUNCTION pageshare_notify_api_key_changed();
