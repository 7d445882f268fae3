//! What every controller shares: the client, the provider, the caches, metrics and settings.

use std::collections::BTreeSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::IngressClass;
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource};
use mcp_interface::api::cluster::Cluster;
use mcp_interface::api::mcs::ServiceExport;
use mcp_interface::api::networking::{MultiClusterIngress, MultiClusterService};
use mcp_interface::api::policy::{ClusterPropagationPolicy, PropagationPolicy};
use mcp_interface::api::work::ResourceBinding;
use mcp_loader::Provider;
use serde::de::DeserializeOwned;

use crate::cache::SharedCache;
use crate::cli::Settings;
use crate::metrics::Metrics;

/// The kinds a controller reads from caches or is triggered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CacheKind {
    IngressClasses,
    Clusters,
    ResourceBindings,
    MultiClusterIngresses,
    MultiClusterServices,
    Services,
    EndpointSlices,
    Secrets,
    ServiceExports,
    PropagationPolicies,
    ClusterPropagationPolicies,
}

/// The shared caches the enabled controllers need (only those are watched, so the controller's
/// RBAC needs no more than its controllers use).
#[derive(Default)]
pub struct Caches {
    pub ingress_classes: Option<SharedCache<IngressClass>>,
    pub clusters: Option<SharedCache<Cluster>>,
    pub bindings: Option<SharedCache<ResourceBinding>>,
    pub mcis: Option<SharedCache<MultiClusterIngress>>,
    pub mcss: Option<SharedCache<MultiClusterService>>,
    pub services: Option<SharedCache<Service>>,
    pub endpoint_slices: Option<SharedCache<PartialObjectMeta<EndpointSlice>>>,
    pub secrets: Option<SharedCache<PartialObjectMeta<Secret>>>,
    pub service_exports: Option<SharedCache<ServiceExport>>,
    pub propagation_policies: Option<SharedCache<PropagationPolicy>>,
    pub cluster_propagation_policies: Option<SharedCache<ClusterPropagationPolicy>>,
}

/// A full-object cache of `K`; its driver task goes into `drivers`.
fn full<K>(
    client: &Client,
    kind: &'static str,
    drivers: &mut Vec<tokio::task::JoinHandle<()>>,
) -> SharedCache<K>
where
    K: Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let api: Api<K> = Api::all(client.clone());
    let (cache, driver) = SharedCache::new(
        kind,
        watcher(api, watcher::Config::default()).default_backoff(),
    );
    drivers.push(tokio::spawn(driver));
    cache
}

/// A metadata-only cache of `K`; its driver task goes into `drivers`.
fn metadata<K>(
    client: &Client,
    kind: &'static str,
    drivers: &mut Vec<tokio::task::JoinHandle<()>>,
) -> SharedCache<PartialObjectMeta<K>>
where
    K: Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    // An `Api` of `PartialObjectMeta` lists and watches metadata only.
    let api: Api<PartialObjectMeta<K>> = Api::all(client.clone());
    let (cache, driver) = SharedCache::new(
        kind,
        watcher(api, watcher::Config::default()).default_backoff(),
    );
    drivers.push(tokio::spawn(driver));
    cache
}

macro_rules! expect_cache {
    ($self:ident . $field:ident) => {
        $self.$field.as_ref().unwrap_or_else(|| {
            panic!(
                "the {} cache was not started: the controller must list it in its cache kinds",
                stringify!($field)
            )
        })
    };
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
                CacheKind::IngressClasses => {
                    caches.ingress_classes = Some(full(client, "IngressClass", &mut drivers))
                }
                CacheKind::Clusters => {
                    caches.clusters = Some(full(client, "Cluster", &mut drivers))
                }
                CacheKind::ResourceBindings => {
                    caches.bindings = Some(full(client, "ResourceBinding", &mut drivers))
                }
                CacheKind::MultiClusterIngresses => {
                    caches.mcis = Some(full(client, "MultiClusterIngress", &mut drivers))
                }
                CacheKind::MultiClusterServices => {
                    caches.mcss = Some(full(client, "MultiClusterService", &mut drivers))
                }
                CacheKind::Services => {
                    caches.services = Some(full(client, "Service", &mut drivers))
                }
                CacheKind::EndpointSlices => {
                    caches.endpoint_slices = Some(metadata::<EndpointSlice>(
                        client,
                        "EndpointSlice",
                        &mut drivers,
                    ))
                }
                CacheKind::Secrets => {
                    caches.secrets = Some(metadata::<Secret>(client, "Secret", &mut drivers))
                }
                CacheKind::ServiceExports => {
                    caches.service_exports = Some(full(client, "ServiceExport", &mut drivers))
                }
                CacheKind::PropagationPolicies => {
                    caches.propagation_policies =
                        Some(full(client, "PropagationPolicy", &mut drivers))
                }
                CacheKind::ClusterPropagationPolicies => {
                    caches.cluster_propagation_policies =
                        Some(full(client, "ClusterPropagationPolicy", &mut drivers))
                }
            }
        }
        (caches, drivers)
    }

    /// Waits until every started cache has its first list.
    pub async fn ready(&self) {
        macro_rules! wait {
            ($($field:ident),*) => {
                $(if let Some(c) = &self.$field {
                    tracing::debug!(kind = c.kind(), "waiting for the cache to sync");
                    c.ready().await;
                })*
            };
        }
        wait!(
            ingress_classes,
            clusters,
            bindings,
            mcis,
            mcss,
            services,
            endpoint_slices,
            secrets,
            service_exports,
            propagation_policies,
            cluster_propagation_policies
        );
    }

    pub fn ingress_classes(&self) -> &SharedCache<IngressClass> {
        expect_cache!(self.ingress_classes)
    }
    pub fn clusters(&self) -> &SharedCache<Cluster> {
        expect_cache!(self.clusters)
    }
    pub fn bindings(&self) -> &SharedCache<ResourceBinding> {
        expect_cache!(self.bindings)
    }
    pub fn mcis(&self) -> &SharedCache<MultiClusterIngress> {
        expect_cache!(self.mcis)
    }
    pub fn mcss(&self) -> &SharedCache<MultiClusterService> {
        expect_cache!(self.mcss)
    }
    pub fn services(&self) -> &SharedCache<Service> {
        expect_cache!(self.services)
    }
    pub fn endpoint_slices(&self) -> &SharedCache<PartialObjectMeta<EndpointSlice>> {
        expect_cache!(self.endpoint_slices)
    }
    pub fn secrets(&self) -> &SharedCache<PartialObjectMeta<Secret>> {
        expect_cache!(self.secrets)
    }
    pub fn service_exports(&self) -> &SharedCache<ServiceExport> {
        expect_cache!(self.service_exports)
    }
    pub fn propagation_policies(&self) -> &SharedCache<PropagationPolicy> {
        expect_cache!(self.propagation_policies)
    }
    pub fn cluster_propagation_policies(&self) -> &SharedCache<ClusterPropagationPolicy> {
        expect_cache!(self.cluster_propagation_policies)
    }
}

/// Shared by every controller.
pub struct Context {
    pub client: Client,
    pub provider: Provider,
    pub settings: Arc<Settings>,
    pub caches: Arc<Caches>,
    pub metrics: Arc<Metrics>,
    pub recorder: Recorder,
}

impl Context {
    pub fn new(
        client: Client,
        provider: Provider,
        settings: Arc<Settings>,
        caches: Arc<Caches>,
        metrics: Arc<Metrics>,
        identity: &str,
    ) -> Self {
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: "multicluster-provider".into(),
                instance: Some(identity.to_owned()),
            },
        );
        Context {
            client,
            provider,
            settings,
            caches,
            metrics,
            recorder,
        }
    }
}
