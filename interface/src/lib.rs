//! The provider contract of the Karmada multicluster cloud provider.
//!
//! - [`abi`]: the abi_stable root module every provider library exports, and the interface
//!   version (the binary contract; only the loader and the export macro touch it).
//! - [`sdk`]: the safe traits a vendor implements, and [`export_provider!`] to export them.
//! - `sdk_async` (feature `async`): the same traits with `async fn`s, for async cloud SDKs, and
//!   `export_async_provider!`; the runtime lives inside the library, one per provider.
//! - [`backends`]: interface 1.2's backend view (the clusters, endpoints and TLS material behind
//!   an object), given with every call to a provider that asks for it.
//! - [`api`]: the Karmada v1.16 API types both sides share (wire-compatible with the CRDs).
//! - [`ProviderError`] / [`ErrorKind`]: errors with a kind that tells the host how to react.
//!
//! A vendor writes no `unsafe` and no abi_stable code: see the [`sdk`] module.

// `unsafe` is for the FFI boundary only, and every block says why it is sound.
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod abi;
pub mod api;
pub mod backends;
mod error;
mod export;
mod log_bridge;
pub mod sdk;
#[cfg(feature = "async")]
pub mod sdk_async;

pub use abi::INTERFACE_VERSION;
pub use error::{ErrorKind, ProviderError};
/// The k8s-openapi version this interface is built with (statuses are its types).
pub use k8s_openapi;

/// Everything a provider implementation needs: the SDK traits, the objects it is given (and the
/// types inside them a provider reads), and the statuses it returns.
pub mod prelude {
    pub use crate::api::networking::{
        ClusterSelector, EXPOSURE_TYPE_CROSS_CLUSTER, EXPOSURE_TYPE_LOAD_BALANCER, ExposurePort,
        MultiClusterIngress, MultiClusterService, MultiClusterServiceSpec,
    };
    pub use crate::backends::{
        BackendCluster, BackendPort, BackendService, Backends, BalancerAddress, Endpoint,
        EndpointPort, PrivateKey, TargetPort, TlsCertificate,
    };
    pub use crate::error::{ErrorKind, ProviderError};
    pub use crate::sdk::{
        MultiClusterIngressBalancer, MultiClusterIngressLoadBalancer, MultiClusterServiceBalancer,
        MultiClusterServiceLoadBalancer, Progress, Provider,
    };
    #[cfg(feature = "async")]
    pub use crate::sdk_async::{
        AsyncMultiClusterIngressBalancer, AsyncMultiClusterIngressLoadBalancer,
        AsyncMultiClusterServiceBalancer, AsyncMultiClusterServiceLoadBalancer, AsyncProvider,
    };
    pub use k8s_openapi::api::core::v1::{
        LoadBalancerIngress, LoadBalancerStatus, PortStatus, ServiceStatus,
    };
    pub use k8s_openapi::api::networking::v1::{
        HTTPIngressPath, HTTPIngressRuleValue, IngressBackend, IngressLoadBalancerIngress,
        IngressLoadBalancerStatus, IngressPortStatus, IngressRule, IngressServiceBackend,
        IngressSpec, IngressTLS, ServiceBackendPort,
    };
    pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
}

/// Support for `export_provider!`; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::export::{lib_header, load_root_module, root_module};
    #[cfg(feature = "async")]
    pub use crate::sdk_async::AsyncRuntime;
    pub use abi_stable::library::{LibHeader, RootModuleResult};
}
