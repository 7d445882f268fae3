//! Interface 1.1's binary contract: `abi.rs` is interface/src/abi.rs as released in 1.1.0.
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod abi;

pub use abi::INTERFACE_VERSION;
