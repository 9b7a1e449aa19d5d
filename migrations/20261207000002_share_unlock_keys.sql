-- Public unlock keys: a share's customer signs unlock tokens with a private key Pageshare never
-- sees, and registers the public half here. Only the JWK's public members are stored.
CREATE TABLE share_unlock_key (
    share_uuid uuid NOT NULL REFERENCES shared_page (uuid) ON DELETE CASCADE,
    kid        text NOT NULL CHECK (length(kid) BETWEEN 1 AND 128),
    alg        text NOT NULL CHECK (alg IN ('EdDSA', 'ES256', 'RS256')),
    -- RFC 7638's required members of the key (kty, crv, x, y or kty, n, e): nothing private.
    jwk        jsonb NOT NULL CHECK (NOT jwk ?| ARRAY['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (share_uuid, kid)
);

-- Instances keep a share's keys with the share in memory: adding or removing one announces the
-- share on the share change channel, as a change of the share itself does.
CREATE FUNCTION pageshare_notify_unlock_key_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pageshare_share_changed', COALESCE(NEW.share_uuid, OLD.share_uuid)::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER share_unlock_key_changed
    AFTER INSERT OR UPDATE OR DELETE ON share_unlock_key
    FOR EACH ROW EXECUTE FUNCTION pageshare_notify_unlock_key_changed();

CREATE TRIGGER share_unlock_key_truncated
    AFTER TRUNCATE ON share_unlock_key
    FOR EACH STATEMENT EXECUTE FUNCTION pageshare_notify_tenant_changed();
