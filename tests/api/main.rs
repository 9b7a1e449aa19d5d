//! Integration tests: the spawned app over HTTP, real Postgres, the simulated Confluence host.

mod admin_list;
mod admin_ui;
mod api_keys;
mod audit;
mod browser;
mod cli;
mod connect_auth;
mod forge;
mod forge_app;
mod forge_security;
mod health;
mod helpers;
mod hostile_confluence;
mod instances;
mod key_rotation;
mod lifecycle;
mod logs;
mod migrations;
mod proxy;
mod rate_limits;
mod retention;
mod secrets;
mod share_page;
mod shares;
mod shutdown;
mod vectors;
