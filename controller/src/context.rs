//! What every controller shares: the client, the provider, the caches, metrics and settings.

use std::collections::BTreeSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::IngressClass;
use kube::Client;
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::{WatchStreamExt, watcher};
use mcp_interface::api::cluster::Cluster;
use mcp_interface::api::mcs::ServiceExport;
use mcp_interface::api::networking::{MultiClusterIngress, MultiClusterService};
use mcp_interface::api::policy::{ClusterPropagationPolicy, PropagationPolicy};
use mcp_interface::api::work::ResourceBinding;
use mcp_loader::Provider;

use crate::cache::{Cacheable, SharedCache};
use crate::controllers::events::Recorder;
use crate::metrics::Metrics;
use crate::settings::Settings;

/// A cache of `K`, its driver task put in `drivers`. For `K = PartialObjectMeta<_>` the API
/// server sends metadata only.
fn cached<K>(
    client: &Client,
    kind: &'static str,
    drivers: &mut Vec<tokio::task::JoinHandle<()>>,
) -> SharedCache<K>
where
    K: Cacheable,
{
    let api: Api<K> = Api::all(client.clone());
    let (cache, driver) = SharedCache::new(
        kind,
        watcher(api, watcher::Config::default()).default_backoff(),
    );
    drivers.push(tokio::spawn(driver));
    cache
}

/// Declares the shared caches, one line per kind: the [`CacheKind`] a controller lists, the
/// accessor on [`Caches`], the cached type (`PartialObjectMeta<_>` where only metadata is read)
/// and the kind's name for logs.
macro_rules! caches {
    ($($variant:ident => $field:ident: $ty:ty = $kind:literal,)*) => {
        /// The kinds a controller reads from caches or is triggered by.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum CacheKind {
            $($variant,)*
        }

        /// The shared caches the enabled controllers need (only those are watched, so the
        /// controller's RBAC needs no more than its controllers use).
        #[derive(Default)]
        pub struct Caches {
            $($field: Option<SharedCache<$ty>>,)*
        }

        impl Caches {
            /// Starts a watch for each kind in `kinds`; the returned handles drive them.
            pub fn start(
                client: &Client,
                kinds: &BTreeSet<CacheKind>,
            ) -> (Caches, Vec<tokio::task::JoinHandle<()>>) {
                let mut caches = Caches::default();
                let mut drivers = Vec::new();
                for kind in kinds {
                    match kind {
                        $(CacheKind::$variant => {
                            caches.$field = Some(cached(client, $kind, &mut drivers))
                        })*
                    }
                }
                (caches, drivers)
            }

            /// Waits until every started cache has its first list.
            pub async fn ready(&self) {
                $(if let Some(c) = &self.$field {
                    tracing::debug!(kind = c.kind(), "waiting for the cache to sync");
                    c.ready().await;
                })*
            }

            $(
                /// The cache; panics when no enabled controller lists its kind (a programming
                /// error the controller table prevents).
                pub fn $field(&self) -> &SharedCache<$ty> {
                    self.$field.as_ref().unwrap_or_else(|| {
                        panic!(
                            "the {} cache was not started: the controller must list it in its cache kinds",
                            stringify!($field)
                        )
                    })
                }
            )*
        }
    };
}

caches! {
    IngressClasses => ingress_classes: IngressClass = "IngressClass",
    Clusters => clusters: Cluster = "Cluster",
    ResourceBindings => bindings: ResourceBinding = "ResourceBinding",
    MultiClusterIngresses => mcis: MultiClusterIngress = "MultiClusterIngress",
    MultiClusterServices => mcss: MultiClusterService = "MultiClusterService",
    Services => services: Service = "Service",
    EndpointSlices => endpoint_slices: PartialObjectMeta<EndpointSlice> = "EndpointSlice",
    Secrets => secrets: PartialObjectMeta<Secret> = "Secret",
    ServiceExports => service_exports: ServiceExport = "ServiceExport",
    PropagationPolicies => propagation_policies: PropagationPolicy = "PropagationPolicy",
    ClusterPropagationPolicies => cluster_propagation_policies: ClusterPropagationPolicy = "ClusterPropagationPolicy",
}

/// Shared by every controller.
pub struct Context {
    pub client: Client,
    pub provider: Provider,
    pub settings: Arc<Settings>,
    pub caches: Arc<Caches>,
    pub metrics: Arc<Metrics>,
    /// Kubernetes Events on our objects (`controllers::events`).
    pub events: Recorder,
}

impl Context {
    pub fn new(
        client: Client,
        provider: Provider,
        settings: Arc<Settings>,
        caches: Arc<Caches>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let events = Recorder::new(client.clone());
        Context {
            client,
            provider,
            settings,
            caches,
            metrics,
            events,
        }
    }
}
