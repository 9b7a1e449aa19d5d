-- The tenant's default embedding origins: a share without origins of its own may be embedded by
-- these (`https://host[:port]`, `https://*.domain`); empty: by any site.
ALTER TABLE installation ADD COLUMN default_frame_ancestors text[] NOT NULL DEFAULT '{}';

-- Shares carry their tenant's default in every instance's memory: a change must reach them all.
DROP TRIGGER installation_changed ON installation;

CREATE TRIGGER installation_changed
    AFTER UPDATE ON installation
    FOR EACH ROW
    WHEN (OLD.installed IS DISTINCT FROM NEW.installed
       OR OLD.enabled IS DISTINCT FROM NEW.enabled
       OR OLD.shared_secret IS DISTINCT FROM NEW.shared_secret
       OR OLD.base_url IS DISTINCT FROM NEW.base_url
       OR OLD.last_secret_kind IS DISTINCT FROM NEW.last_secret_kind
       OR OLD.default_frame_ancestors IS DISTINCT FROM NEW.default_frame_ancestors)
    EXECUTE FUNCTION pageshare_notify_tenant_changed();
