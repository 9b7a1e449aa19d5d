-- Every instance keeps recently read shares in memory; these notifications tell all of them
-- when a share, or the tenant it belongs to, changes. The payload is the share's uuid, or `*`
-- when a tenant changed in a way that matters to its shares.
CREATE FUNCTION pageshare_notify_share_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pageshare_share_changed', OLD.uuid::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER shared_page_changed
    AFTER UPDATE OR DELETE ON shared_page
    FOR EACH ROW EXECUTE FUNCTION pageshare_notify_share_changed();

CREATE FUNCTION pageshare_notify_tenant_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pageshare_share_changed', '*');
    RETURN NULL;
END
$$;

CREATE TRIGGER installation_changed
    AFTER UPDATE ON installation
    FOR EACH ROW
    WHEN (OLD.installed IS DISTINCT FROM NEW.installed
       OR OLD.enabled IS DISTINCT FROM NEW.enabled
       OR OLD.shared_secret IS DISTINCT FROM NEW.shared_secret
       OR OLD.base_url IS DISTINCT FROM NEW.base_url
       OR OLD.last_secret_kind IS DISTINCT FROM NEW.last_secret_kind)
    EXECUTE FUNCTION pageshare_notify_tenant_changed();

CREATE TRIGGER shared_page_truncated
    AFTER TRUNCATE ON shared_page
    FOR EACH STATEMENT EXECUTE FUNCTION pageshare_notify_tenant_changed();

CREATE TRIGGER installation_truncated
    AFTER TRUNCATE ON installation
    FOR EACH STATEMENT EXECUTE FUNCTION pageshare_notify_tenant_changed();
