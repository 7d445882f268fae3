//! The binary contract between the controller (host) and a provider library.
//!
//! Everything here is `#[repr(C)]` and checked by abi_stable when a library is loaded. The root
//! module is a *prefix type*: the fields up to and including the one marked
//! `#[sabi(last_prefix_field)]` exist in every library of interface major version 1; the
//! provider methods come after it, so
//!
//! - a newer host reading an older library sees a method the library lacks as `None`
//!   ("not supported"), and
//! - an older host reading a newer library simply does not see the methods appended later.
//!
//! Rules for changing this file without breaking vendors (the "Compatibility promise" in
//! `docs/vendors.md`):
//! only append fields at the end of [`ProviderModule`] (bump the interface minor version),
//! never reorder, retype or remove one (that is a new major version).
//!
//! Objects and statuses cross as JSON text, so host and provider may be built with different
//! k8s-openapi versions. Errors cross as [`FfiError`] values, never as panics.

use abi_stable::{
    StableAbi, declare_root_module_statics,
    library::RootModule,
    sabi_types::VersionStrings,
    std_types::{ROption, RResult, RSlice, RStr, RString},
};

/// The interface version this crate speaks, `MAJOR.MINOR.PATCH`.
///
/// It is the version abi_stable stores in each library header. A library loads when its major
/// version equals the host's; minor versions may differ in both directions (see the module docs).
pub const INTERFACE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The interface major version: libraries of another major version are refused.
pub const INTERFACE_MAJOR: u32 = parse_major(INTERFACE_VERSION);

const fn parse_major(version: &str) -> u32 {
    let bytes = version.as_bytes();
    let mut i = 0;
    let mut major = 0u32;
    while i < bytes.len() && bytes[i] != b'.' {
        major = major * 10 + (bytes[i] - b'0') as u32;
        i += 1;
    }
    major
}

/// Name of the symbol abi_stable looks up in a provider library (the library header).
/// `export_provider!` defines it; `tests` checks it against abi_stable's own constant.
pub const ROOT_MODULE_SYMBOL: &str = "_1as_0lib_1header_0root_bmodule_bloader";

/// Opaque handle of one provider instance inside a library (a library may create several,
/// e.g. with different cloud-configs).
pub type InstanceId = u64;

/// What one provider instance offers. A bit set so that later capabilities need no layout change.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capabilities(pub u64);

impl Capabilities {
    /// The instance implements the MultiClusterIngress load balancer.
    pub const MULTICLUSTER_INGRESS: u64 = 1 << 0;
    /// The instance implements the MultiClusterService load balancer.
    pub const MULTICLUSTER_SERVICE: u64 = 1 << 1;

    pub fn has(self, bit: u64) -> bool {
        self.0 & bit != 0
    }
}

/// Error kinds on the wire (`FfiError::kind`). Unknown codes from a newer library are treated as
/// permanent by the host.
pub mod error_code {
    /// Transient: retry with backoff.
    pub const RETRYABLE: u8 = 0;
    /// Retrying the same input will not help until the object changes.
    pub const PERMANENT: u8 = 1;
    /// The load balancer (or a cloud resource it needs) does not exist.
    pub const NOT_FOUND: u8 = 2;
    /// The provider panicked; the SDK caught it at the boundary.
    pub const PANICKED: u8 = 3;
    /// The method or capability is not implemented by this provider.
    pub const NOT_SUPPORTED: u8 = 4;
    /// The input could not be decoded by the provider (a host/provider type mismatch).
    pub const INVALID_INPUT: u8 = 5;
}

/// An error crossing the boundary.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct FfiError {
    /// One of [`error_code`].
    pub kind: u8,
    pub message: RString,
}

/// Result of every provider method: JSON text on success.
pub type FfiResult = RResult<RString, FfiError>;

/// A provider method: `(instance, object as JSON) -> JSON`.
pub type ProviderMethod = extern "C" fn(InstanceId, RStr<'_>) -> FfiResult;

/// Log levels on the wire (`tracing::Level`, most verbose last).
pub mod log_level {
    pub const ERROR: u8 = 1;
    pub const WARN: u8 = 2;
    pub const INFO: u8 = 3;
    pub const DEBUG: u8 = 4;
    pub const TRACE: u8 = 5;
}

/// One `tracing` event from inside a provider, already formatted.
#[repr(C)]
#[derive(StableAbi, Debug)]
pub struct LogRecord<'a> {
    /// One of [`log_level`].
    pub level: u8,
    /// Name of the provider that logged it.
    pub provider: RStr<'a>,
    /// The event's target inside the provider (usually its module path).
    pub target: RStr<'a>,
    /// The `message` field.
    pub message: RStr<'a>,
    /// The other fields, `key=value` separated by spaces.
    pub fields: RStr<'a>,
    /// Fields of the spans the provider had entered, outermost first (`span{k=v}:...`).
    pub spans: RStr<'a>,
    pub file: RStr<'a>,
    pub line: u32,
}

/// Callbacks the host hands to a library right after loading it, so the provider's `tracing`
/// events reach the host's subscriber (a library has its own copy of `tracing`'s globals, so
/// without this its logs would vanish).
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = HostCallbacksRef)))]
#[sabi(missing_field(panic))]
pub struct HostCallbacks {
    /// Whether the host would record an event of this level and target. Asked for every event,
    /// so a host whose filter changes at run time is followed.
    pub enabled: extern "C" fn(level: u8, target: RStr<'_>) -> bool,
    #[sabi(last_prefix_field)]
    pub log: extern "C" fn(record: &LogRecord<'_>),
}

/// The root module every provider library exports (through `export_provider!`).
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = ProviderModuleRef)))]
#[sabi(missing_field(option))]
pub struct ProviderModule {
    /// The provider's name, what `--cloud-provider` selects.
    pub name: extern "C" fn() -> RStr<'static>,
    /// The interface version the library was built against.
    pub interface_version: extern "C" fn() -> RStr<'static>,
    /// The provider library's own version.
    pub provider_version: extern "C" fn() -> RStr<'static>,
    /// Hands over the host's logging callbacks. Called once, before `create`.
    pub install_host: extern "C" fn(HostCallbacksRef),
    /// The factory: receives the `--cloud-config` file's contents (or nothing) and returns a new
    /// provider instance or the provider's own error.
    pub create: extern "C" fn(config: ROption<RSlice<'_, u8>>) -> RResult<InstanceId, FfiError>,
    /// What the instance offers. A capability not reported here is never called.
    #[sabi(last_prefix_field)]
    pub capabilities: extern "C" fn(InstanceId) -> Capabilities,

    // ---- Appended methods: each reads as `None` (not supported) from a library that predates
    // it. Inputs are the object as JSON; outputs are described on each.
    /// MultiClusterIngress `get` -> `{"exists": bool, "status": IngressLoadBalancerStatus?}`.
    pub mci_get: extern "C" fn(InstanceId, RStr<'_>) -> FfiResult,
    /// MultiClusterIngress `ensure` -> IngressLoadBalancerStatus.
    pub mci_ensure: extern "C" fn(InstanceId, RStr<'_>) -> FfiResult,
    /// MultiClusterIngress `update` -> IngressLoadBalancerStatus.
    pub mci_update: extern "C" fn(InstanceId, RStr<'_>) -> FfiResult,
    /// MultiClusterIngress `ensure_deleted` -> `null`.
    pub mci_ensure_deleted: extern "C" fn(InstanceId, RStr<'_>) -> FfiResult,
    /// MultiClusterService `get` -> `{"exists": bool, "status": LoadBalancerStatus?}`.
    pub mcs_get: extern "C" fn(InstanceId, RStr<'_>) -> FfiResult,
    /// MultiClusterService `ensure` -> core/v1 LoadBalancerStatus.
    pub mcs_ensure: extern "C" fn(InstanceId, RStr<'_>) -> FfiResult,
    /// MultiClusterService `update` -> core/v1 LoadBalancerStatus.
    pub mcs_update: extern "C" fn(InstanceId, RStr<'_>) -> FfiResult,
    /// MultiClusterService `ensure_deleted` -> `null`.
    pub mcs_ensure_deleted: extern "C" fn(InstanceId, RStr<'_>) -> FfiResult,
    /// Interface 1.1: the host's bound on one call (`--provider-call-timeout`), in milliseconds,
    /// so the instance can stop work the host no longer waits for (the async SDK cancels the
    /// call's future). The host calls it after `create` and whenever the bound changes.
    pub set_call_timeout: extern "C" fn(InstanceId, u64),
}

impl RootModule for ProviderModuleRef {
    declare_root_module_statics! {ProviderModuleRef}
    const BASE_NAME: &'static str = "mcp_provider";
    const NAME: &'static str = "multicluster cloud provider";
    const VERSION_STRINGS: VersionStrings = VersionStrings::new(INTERFACE_VERSION);
}

/// The JSON shape of a `get` result.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GetResult<S> {
    pub exists: bool,
    #[serde(default = "none", skip_serializing_if = "Option::is_none")]
    pub status: Option<S>,
}

fn none<S>() -> Option<S> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_module_symbol_matches_abi_stable() {
        assert_eq!(
            ROOT_MODULE_SYMBOL,
            abi_stable::library::ROOT_MODULE_LOADER_NAME
        );
    }

    #[test]
    fn major_version_is_parsed() {
        assert_eq!(parse_major("1.0.0"), 1);
        assert_eq!(parse_major("12.3.4"), 12);
        assert_eq!(INTERFACE_MAJOR, 1);
    }
}
