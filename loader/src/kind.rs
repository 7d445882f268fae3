//! The kinds of object provider calls are about ([`ObjectKind`]): for each, its four methods
//! (names and library entries), its capability and the status its balancer reports, so that the
//! handle has one path per method for every kind.

use std::fmt;

use k8s_openapi::api::core::v1::LoadBalancerStatus;
use k8s_openapi::api::networking::v1::IngressLoadBalancerStatus;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use mcp_interface::abi::{Capabilities, ProviderMethod, ProviderModuleRef, call_kind, call_method};
use mcp_interface::api::networking::{MultiClusterIngress, MultiClusterService};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::status::ValidStatus;

/// A provider method, for errors, logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    MciGet,
    MciEnsure,
    MciUpdate,
    MciEnsureDeleted,
    McsGet,
    McsEnsure,
    McsUpdate,
    McsEnsureDeleted,
}

impl Method {
    pub const ALL: [Method; 8] = [
        Method::MciGet,
        Method::MciEnsure,
        Method::MciUpdate,
        Method::MciEnsureDeleted,
        Method::McsGet,
        Method::McsEnsure,
        Method::McsUpdate,
        Method::McsEnsureDeleted,
    ];

    /// A stable name, used as the metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::MciGet => "multiclusteringress_get",
            Method::MciEnsure => "multiclusteringress_ensure",
            Method::MciUpdate => "multiclusteringress_update",
            Method::MciEnsureDeleted => "multiclusteringress_ensure_deleted",
            Method::McsGet => "multiclusterservice_get",
            Method::McsEnsure => "multiclusterservice_ensure",
            Method::McsUpdate => "multiclusterservice_update",
            Method::McsEnsureDeleted => "multiclusterservice_ensure_deleted",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a call does to an object's balancer; indexes [`ObjectKind::METHODS`] and
/// [`ObjectKind::entries`], and is the method code of interface 1.2's `call`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Operation {
    Get = call_method::GET as isize,
    Ensure = call_method::ENSURE as isize,
    Update = call_method::UPDATE as isize,
    EnsureDeleted = call_method::ENSURE_DELETED as isize,
}

/// A kind of object the provider keeps a balancer for. Implemented by the loader for
/// MultiClusterIngress and MultiClusterService (the status check it needs is the loader's).
pub trait ObjectKind: Serialize + Send + Sync + 'static {
    /// The balancer's status, as `get`, `ensure` and `update` return it.
    type Status: Serialize
        + DeserializeOwned
        + Clone
        + Default
        + ValidStatus
        + Send
        + Sync
        + 'static;
    /// The kind's name (`MultiClusterIngress`), in the key calls about one object are ordered by.
    const KIND: &'static str;
    /// The capability bit an instance declares for this kind.
    const CAPABILITY: u64;
    /// The kind's code in interface 1.2's `call` entry.
    const CALL_KIND: u8;
    /// get, ensure, update, ensure_deleted.
    const METHODS: [Method; 4];
    /// The library's entries for [`ObjectKind::METHODS`], in the same order (`None`: missing).
    fn entries(module: ProviderModuleRef) -> [Option<ProviderMethod>; 4];
    fn metadata(&self) -> &ObjectMeta;
}

impl ObjectKind for MultiClusterIngress {
    type Status = IngressLoadBalancerStatus;
    const KIND: &'static str = "MultiClusterIngress";
    const CAPABILITY: u64 = Capabilities::MULTICLUSTER_INGRESS;
    const CALL_KIND: u8 = call_kind::MULTICLUSTER_INGRESS;
    const METHODS: [Method; 4] = [
        Method::MciGet,
        Method::MciEnsure,
        Method::MciUpdate,
        Method::MciEnsureDeleted,
    ];
    fn entries(m: ProviderModuleRef) -> [Option<ProviderMethod>; 4] {
        [
            m.mci_get(),
            m.mci_ensure(),
            m.mci_update(),
            m.mci_ensure_deleted(),
        ]
    }
    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }
}

impl ObjectKind for MultiClusterService {
    type Status = LoadBalancerStatus;
    const KIND: &'static str = "MultiClusterService";
    const CAPABILITY: u64 = Capabilities::MULTICLUSTER_SERVICE;
    const CALL_KIND: u8 = call_kind::MULTICLUSTER_SERVICE;
    const METHODS: [Method; 4] = [
        Method::McsGet,
        Method::McsEnsure,
        Method::McsUpdate,
        Method::McsEnsureDeleted,
    ];
    fn entries(m: ProviderModuleRef) -> [Option<ProviderMethod>; 4] {
        [
            m.mcs_get(),
            m.mcs_ensure(),
            m.mcs_update(),
            m.mcs_ensure_deleted(),
        ]
    }
    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }
}

impl Operation {
    pub(crate) fn method<K: ObjectKind>(self) -> Method {
        K::METHODS[self as usize]
    }

    pub(crate) fn entry<K: ObjectKind>(self, module: ProviderModuleRef) -> Option<ProviderMethod> {
        K::entries(module)[self as usize]
    }

    pub(crate) fn code(self) -> u8 {
        self as u8
    }
}
