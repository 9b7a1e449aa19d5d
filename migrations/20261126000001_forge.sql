-- A tenant may also come through Forge, or only through Forge (docs/ARCHITECTURE.md): one row
-- per site whichever platform it came through.
ALTER TABLE installation
    -- The `installationId` a Connect `installed` body carries once the app is registered with
    -- Forge: the Forge installation of the same site.
    ADD COLUMN connect_installation_id text,
    ADD COLUMN forge_installation_id   text UNIQUE,
    -- The invocations' `app.apiBaseUrl`: Confluence's REST API for the site is under `{..}/wiki`.
    ADD COLUMN forge_api_base_url      text,
    -- The app's OAuth token for the installation, sealed with the data key, and its expiry.
    ADD COLUMN forge_app_token         bytea,
    ADD COLUMN forge_token_expires_at  timestamptz,
    -- When the tenant was last seen through each platform (`pageshare tenants status`).
    ADD COLUMN connect_seen_at         timestamptz,
    ADD COLUMN forge_seen_at           timestamptz;

UPDATE installation
SET connect_seen_at = COALESCE(GREATEST(per_install_verified_at, app_wide_verified_at), installed_at);

CREATE INDEX installation_by_cloud_id ON installation (cloud_id);
CREATE INDEX installation_by_connect_installation_id ON installation (connect_installation_id);

-- Instances keep shares and installations apart in memory now: a tenant's change evicts that
-- tenant only (`tenant:{client_key}`); a TRUNCATE evicts everything (`*`).
CREATE OR REPLACE FUNCTION pageshare_notify_tenant_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_LEVEL = 'ROW' THEN
        PERFORM pg_notify('pageshare_share_changed', 'tenant:' || COALESCE(NEW.client_key, OLD.client_key));
    ELSE
        PERFORM pg_notify('pageshare_share_changed', '*');
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER installation_changed ON installation;

CREATE TRIGGER installation_changed
    AFTER UPDATE ON installation
    FOR EACH ROW
    WHEN (OLD.installed IS DISTINCT FROM NEW.installed
       OR OLD.enabled IS DISTINCT FROM NEW.enabled
       OR OLD.shared_secret IS DISTINCT FROM NEW.shared_secret
       OR OLD.base_url IS DISTINCT FROM NEW.base_url
       OR OLD.display_url IS DISTINCT FROM NEW.display_url
       OR OLD.last_secret_kind IS DISTINCT FROM NEW.last_secret_kind
       OR OLD.default_frame_ancestors IS DISTINCT FROM NEW.default_frame_ancestors
       OR OLD.forge_installation_id IS DISTINCT FROM NEW.forge_installation_id
       OR OLD.forge_api_base_url IS DISTINCT FROM NEW.forge_api_base_url
       OR OLD.forge_app_token IS DISTINCT FROM NEW.forge_app_token
       OR OLD.forge_token_expires_at IS DISTINCT FROM NEW.forge_token_expires_at)
    EXECUTE FUNCTION pageshare_notify_tenant_changed();
