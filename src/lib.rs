//! ojscog: an editorial-office appliance for journals that run Open Journal Systems.
//!
//! See ARCHITECTURE.md for the map of modules and the rules between them.

pub mod agents;
pub mod backup;
pub mod config;
pub mod context;
pub mod demo;
pub mod eval;
pub mod figures;
pub mod health;
pub mod human;
pub mod inference;
pub mod metrics;
pub mod models;
pub mod ojs;
pub mod service;
pub mod store;
pub mod sync;
pub mod system;
pub mod text;
pub mod update;
pub mod voice;
pub mod web;
