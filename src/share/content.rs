//! Page content from Confluence's `export_view`, sanitised, with attachments rewritten.
