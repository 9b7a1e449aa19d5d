-- One row per external share of a Confluence page.
CREATE TABLE shared_page (
    uuid             uuid PRIMARY KEY,
    client_key       text NOT NULL REFERENCES installation (client_key),
    content_id       text NOT NULL,
    space_key        text NOT NULL DEFAULT '',
    title            text NOT NULL DEFAULT '',
    -- Argon2id PHC string; never the password itself.
    password_hash    text,
    -- Bumped on every password change: share cookies carry it, so a change ends every session.
    password_version integer NOT NULL DEFAULT 0,
    expires_at       timestamptz,
    -- Origins allowed to embed the share (`https://host[:port]`, `https://*.domain`); empty: any.
    frame_ancestors  text[] NOT NULL DEFAULT '{}',
    created_by       text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    revoked_at       timestamptz
);

CREATE INDEX shared_page_by_content ON shared_page (client_key, content_id);

-- Failed password attempts per share and client IP, in a fixed window, shared by every instance.
CREATE TABLE password_failure (
    share_uuid   uuid NOT NULL REFERENCES shared_page (uuid) ON DELETE CASCADE,
    client_ip    text NOT NULL,
    window_start timestamptz NOT NULL,
    failures     integer NOT NULL,
    PRIMARY KEY (share_uuid, client_ip)
);

-- Key material the instances share: the cookie key when PAGESHARE_COOKIE_KEY is unset.
CREATE TABLE app_key (
    name       text PRIMARY KEY,
    key        bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
