-- The admin page's list of a large site's shares (docs/HTTP.md, "GET /api/admin/shares"): pages
-- newest first with a keyset cursor, and a text search over title, space, page id and creator.
-- pg_trgm is a trusted extension (PG 13+), like pgcrypto.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX shared_page_by_tenant_newest ON shared_page (client_key, created_at DESC, uuid DESC);

-- The expression must stay the one src/storage/share_overview.rs searches.
CREATE INDEX shared_page_search ON shared_page USING gin (
    (title || E'\n' || space_key || E'\n' || content_id || E'\n' || created_by) gin_trgm_ops
);
