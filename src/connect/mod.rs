//! The Atlassian Connect platform: canonical requests, JWTs, signed install, secrets, and calls
//! to a tenant's Confluence.

pub mod allowlist;
pub mod canonical;
pub mod descriptor;
pub mod host_client;
pub mod payload;
pub mod redirects;
pub mod secrets;
pub mod signed_install;
pub mod token;
