//! What every controller shares: the client, the provider, the caches, metrics and settings.

use std::collections::BTreeSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::networking::v1::IngressClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::Api;
use kube::core::{PartialObjectMeta, PartialObjectMetaExt};
use kube::runtime::{WatchStreamExt, watcher};
use mcp_interface::api::cluster::Cluster;
use mcp_interface::api::mcs::ServiceExport;
use mcp_interface::api::networking::{MultiClusterIngress, MultiClusterService};
use mcp_interface::api::policy::{ClusterPropagationPolicy, PropagationPolicy};
use mcp_interface::api::work::ResourceBinding;
use mcp_loader::Provider;

use crate::applied::AppliedDigests;
use crate::cache::{Cacheable, CachedEndpointSlice, CachedService, Decoded, Reports, SharedCache};
use crate::events::{EventType, Recorder};
use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::supervisor::Drivers;

/// A cache of `K`, its driver task spawned into `drivers`. For `K = PartialObjectMeta<_>` the API
/// server sends metadata only. Each object is decoded on its own; one that does not fit `K` is
/// reported (see [`reports`]) and skipped.
fn cached<K>(
    client: &Client,
    kind: &'static str,
    reporting: &Reporting,
    drivers: &mut Drivers,
) -> SharedCache<K>
where
    K: Cacheable,
{
    let api: Api<Decoded<K>> = Api::all(client.clone());
    let (cache, driver) = SharedCache::new(
        kind,
        watcher(api, watcher::Config::default()).default_backoff(),
        reports::<K>(kind, reporting),
    );
    drivers.spawn(kind, driver);
    cache
}

/// The reporting component of the Events about objects the caches skip.
const UNDECODABLE_COMPONENT: &str = "multicluster-provider";

/// Where the caches report objects they skip.
struct Reporting {
    metrics: Arc<Metrics>,
    recorder: Recorder,
}

/// What the cache of `kind` reports: `cache_events_total{kind}` for each watch event handled;
/// for an object our model cannot decode, a warning with its namespace and name, the
/// `undecodable_objects_total{kind}` counter, and a Warning Event on the object (for
/// `kubectl describe`). Nothing else is lost: the rest of the kind is served.
fn reports<K: Cacheable>(kind: &'static str, reporting: &Reporting) -> Reports {
    let metrics = reporting.metrics.clone();
    let recorder = reporting.recorder.clone();
    let handled = {
        let metrics = reporting.metrics.clone();
        Arc::new(move || metrics.cache_event(kind))
    };
    let undecodable = Arc::new(move |metadata: &ObjectMeta, error: &str| {
        let namespace = metadata.namespace.clone().unwrap_or_default();
        let name = metadata.name.clone().unwrap_or_default();
        tracing::warn!(
            kind,
            namespace,
            name,
            "skipped an object this controller cannot read (it fits the CRD but not this controller's model; upgrade the controller or fix the object): {error}"
        );
        metrics.undecodable_object(kind);
        let object = metadata.clone().into_response_partial::<K>();
        recorder.record(
            UNDECODABLE_COMPONENT,
            &object,
            EventType::Warning,
            "Undecodable",
            &format!("The multicluster provider cannot read this object and ignores it: {error}"),
        );
    });
    Reports {
        undecodable,
        handled,
    }
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
            /// Starts a watch for each kind in `kinds`, driven by the returned tasks (supervised:
            /// see [`Drivers::stopped`]). Objects a cache skips are reported to `metrics` and as
            /// Events through `events`.
            pub fn start(
                client: &Client,
                kinds: &BTreeSet<CacheKind>,
                metrics: &Arc<Metrics>,
                events: &Recorder,
            ) -> (Caches, Drivers) {
                let mut caches = Caches::default();
                let mut drivers = Drivers::default();
                let reporting = Reporting {
                    metrics: metrics.clone(),
                    recorder: events.clone(),
                };
                for kind in kinds {
                    match kind {
                        $(CacheKind::$variant => {
                            caches.$field = Some(cached(client, $kind, &reporting, &mut drivers))
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

            /// These caches with `cache` as the cache of its kind, for tests that build a
            /// [`Context`] without a watch.
            #[cfg(test)]
            pub fn with<K: Cacheable>(mut self, cache: SharedCache<K>) -> Self {
                let mut cache = Some(cache);
                $(if let Some(field) = (&mut self.$field as &mut dyn std::any::Any)
                    .downcast_mut::<Option<SharedCache<K>>>()
                {
                    *field = cache.take();
                })*
                assert!(cache.is_none(), "no cache holds objects of this type");
                self
            }
        }
    };
}

caches! {
    IngressClasses => ingress_classes: IngressClass = "IngressClass",
    Clusters => clusters: Cluster = "Cluster",
    ResourceBindings => bindings: ResourceBinding = "ResourceBinding",
    MultiClusterIngresses => mcis: MultiClusterIngress = "MultiClusterIngress",
    MultiClusterServices => mcss: MultiClusterService = "MultiClusterService",
    Services => services: CachedService = "Service",
    EndpointSlices => endpoint_slices: CachedEndpointSlice = "EndpointSlice",
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
    /// What each balancer was last brought in line with, for providers that take the view.
    pub applied: AppliedDigests,
}

impl Context {
    pub fn new(
        client: Client,
        provider: Provider,
        settings: Arc<Settings>,
        caches: Arc<Caches>,
        metrics: Arc<Metrics>,
        events: Recorder,
    ) -> Self {
        Context {
            applied: AppliedDigests::new(settings.resync_period),
            client,
            provider,
            settings,
            caches,
            metrics,
            events,
        }
    }
}
