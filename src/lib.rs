//! Pageshare: share Confluence Cloud pages with people outside Confluence.

pub mod cli;
pub mod config;
pub mod confluence;
pub mod connect;
pub mod data_key;
pub mod db;
pub mod forge;
pub mod jws;
pub mod metrics;
pub mod outgoing;
pub mod personal_data;
pub mod sandbox;
pub mod share;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod tenant;
pub mod web;
