-- Site unlock keys: one key unlocks every share of a site (or of some of its spaces) whose uuid a
-- token names as `iss`. A public JWK (nothing private), or an HS256 secret Pageshare generated,
-- sealed with the data key (AES-256-GCM, bound to the tenant and kid): the database alone does
-- not give it away.
CREATE TABLE site_unlock_key (
    client_key    text NOT NULL REFERENCES installation (client_key) ON DELETE CASCADE,
    kid           text NOT NULL CHECK (length(kid) BETWEEN 1 AND 128),
    alg           text NOT NULL CHECK (alg IN ('EdDSA', 'ES256', 'RS256', 'HS256')),
    -- RFC 7638's required members of a public key: nothing private.
    jwk           jsonb CHECK (NOT jwk ?| ARRAY['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']),
    sealed_secret bytea,
    -- Empty: every space of the site.
    space_keys    text[] NOT NULL DEFAULT '{}',
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_key, kid),
    CHECK ((alg = 'HS256') = (sealed_secret IS NOT NULL)),
    CHECK ((alg = 'HS256') = (jwk IS NULL))
);

-- Instances keep a site's keys in memory by tenant: a change announces `site-keys:<client key>`
-- on the share change channel.
CREATE FUNCTION pageshare_notify_site_unlock_key_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pageshare_share_changed',
                      'site-keys:' || COALESCE(NEW.client_key, OLD.client_key));
    RETURN NULL;
END
$$;

CREATE TRIGGER site_unlock_key_changed
    AFTER INSERT OR UPDATE OR DELETE ON site_unlock_key
    FOR EACH ROW EXECUTE FUNCTION pageshare_notify_site_unlock_key_changed();

CREATE TRIGGER site_unlock_key_truncated
    AFTER TRUNCATE ON site_unlock_key
    FOR EACH STATEMENT EXECUTE FUNCTION pageshare_notify_tenant_changed();
