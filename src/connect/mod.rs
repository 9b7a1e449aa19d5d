//! The Atlassian Connect platform only: canonical requests and qsh, Connect JWTs, signed install,
//! shared secrets, the descriptor and the lifecycle payload.

pub mod allowlist;
pub mod canonical;
pub mod descriptor;
pub mod payload;
pub mod secrets;
pub mod signed_install;
pub mod token;
