//! The Karmada multicluster cloud provider controller manager, as a library so its parts can be
//! tested; `main.rs` only parses flags and calls [`manager::run`], [`inspect::run`] or [`verify::run`].
//!
//! docs/architecture.md describes the layout and how a watch event becomes a provider call and
//! a status write.

#![forbid(unsafe_code)]

pub mod applied;
pub mod backoff;
pub mod cache;
pub mod cli;
pub mod client;
pub mod context;
pub mod controllers;
pub mod duration;
pub mod error;
pub mod events;
pub mod inspect;
pub mod key;
pub mod leader;
pub mod manager;
pub mod metrics;
pub mod profiling;
pub mod provider;
pub mod server;
pub mod settings;
pub mod supervisor;
pub mod telemetry;
pub mod token_bucket;
pub mod verify;
pub mod writes;

/// `multicluster-provider VERSION (provider interface X.Y.Z)`.
pub fn version_line() -> String {
    format!(
        "multicluster-provider {} (provider interface {})",
        env!("CARGO_PKG_VERSION"),
        mcp_interface::INTERFACE_VERSION
    )
}
