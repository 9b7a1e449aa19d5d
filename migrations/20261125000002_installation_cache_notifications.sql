-- Instances also keep installations in memory, for authenticated requests: every column they
-- hold must reach them when it changes (displayUrl included, for the iframe pages' CSP), and a
-- deleted installation too.
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
       OR OLD.default_frame_ancestors IS DISTINCT FROM NEW.default_frame_ancestors)
    EXECUTE FUNCTION pageshare_notify_tenant_changed();

CREATE TRIGGER installation_deleted
    AFTER DELETE ON installation
    FOR EACH ROW EXECUTE FUNCTION pageshare_notify_tenant_changed();

-- Verifications are written down in the background, so two of them (or one and a re-install)
-- may reach the database out of order: each carries its time, and the kind of secret last
-- verified moves only forward, never back past a re-install that stored a new secret.
ALTER TABLE installation ADD COLUMN secret_stored_at timestamptz NOT NULL DEFAULT now();
