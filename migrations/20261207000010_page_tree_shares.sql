-- Page-tree shares: a share made with `includeChildren` serves its page and every page below it
-- in Confluence. Fixed when the share is created; existing shares serve their one page.
ALTER TABLE shared_page ADD COLUMN include_children boolean NOT NULL DEFAULT false;
