//! Confluence's REST API as the app calls it, whatever platform the tenant came through: the
//! client (credentials given as a value), where downloads may be redirected, and Confluence's ids.

pub mod client;
pub mod ids;
pub mod redirects;
