//! Queries, one module per table.

pub mod app_keys;
pub mod forge_tenants;
pub mod installations;
pub mod jobs;
pub mod password_failures;
pub mod reader_cache;
pub mod retention;
pub mod share_overview;
pub mod shares;
