//! The share domain: shares, unlock tokens, cookies, passwords, the rendered page content.

pub mod content;
