-- One row per Confluence site that installed the app, keyed by its clientKey.
CREATE TABLE installation (
    client_key              text PRIMARY KEY,
    app_key                 text NOT NULL,
    -- NULL once `pageshare secrets forget-per-install` ran (every tenant uses the app-wide secret).
    shared_secret           text,
    base_url                text NOT NULL,
    display_url             text,
    product_type            text NOT NULL DEFAULT '',
    description             text NOT NULL DEFAULT '',
    server_version          text,
    plugins_version         text,
    cloud_id                text,
    -- The rest of the `installed` payload, the shared secret removed.
    payload                 jsonb NOT NULL DEFAULT '{}'::jsonb,
    installed               boolean NOT NULL DEFAULT true,
    enabled                 boolean NOT NULL DEFAULT true,
    -- Which kind of secret last verified one of the tenant's tokens, and when each kind did.
    last_secret_kind        text CHECK (last_secret_kind IN ('per-install', 'app-wide')),
    per_install_verified_at timestamptz,
    app_wide_verified_at    timestamptz,
    installed_at            timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    uninstalled_at          timestamptz
);
