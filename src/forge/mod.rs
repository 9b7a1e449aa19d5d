//! Forge Remote only: the invocation token and Forge's key set, Forge's ids.

pub mod ids;
pub mod keys;
pub mod token;
