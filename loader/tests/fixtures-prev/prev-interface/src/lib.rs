//! Interface 1.1's binary contract: `abi.rs` is interface/src/abi.rs as released in 1.1.0.

pub mod abi;

pub use abi::INTERFACE_VERSION;
