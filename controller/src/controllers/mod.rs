//! The five controllers of the Go original, and the machinery they share: selection by
//! `--controllers`, trigger plumbing from the shared caches, the kube-runtime controller with
//! per-object backoff, metrics and spans.

pub mod crd_installation;
pub mod mci_service_locations;
pub mod multicluster_ingress;
pub mod multicluster_service;
pub mod serviceexport_propagation;

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use futures::channel::mpsc;
use futures::future::BoxFuture;
use kube::Resource;
use kube::runtime::Controller;
use kube::runtime::controller::{Action, Config};
use kube::runtime::reflector::{ObjectRef, Store};
use mcp_loader::Provider;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::backoff::Backoff;
use crate::cache::{Change, Subscription};
use crate::context::{CacheKind, Context};
use crate::error::Error;
use crate::metrics::{ControllerErrorLabels, ControllerLabels};
use mcp_interface::api::constants::{DERIVED_SERVICE_PREFIX, LABEL_SERVICE_NAME};

/// Every controller, by its `--controllers` name.
pub const ALL: [&str; 5] = [
    multicluster_ingress::NAME,
    multicluster_service::NAME,
    crd_installation::NAME,
    serviceexport_propagation::NAME,
    mci_service_locations::NAME,
];

/// `--controllers`: `*` enables all, `name` one, `-name` disables one (Go's IsControllerEnabled).
#[derive(Debug, Clone)]
pub struct ControllerSelection {
    items: Vec<String>,
}

impl ControllerSelection {
    pub fn parse(items: &[String]) -> Result<Self, String> {
        let items: Vec<String> = items
            .iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        let unknown: Vec<&str> = items
            .iter()
            .map(|i| i.strip_prefix('-').unwrap_or(i))
            .filter(|name| *name != "*" && !ALL.contains(name))
            .collect();
        if !unknown.is_empty() {
            return Err(format!(
                "--controllers names unknown controllers {}; known: {}",
                unknown.join(", "),
                ALL.join(", ")
            ));
        }
        Ok(ControllerSelection { items })
    }

    pub fn is_enabled(&self, name: &str) -> bool {
        if self.items.iter().any(|i| i.strip_prefix('-') == Some(name)) {
            return false;
        }
        self.items.iter().any(|i| i == name || i == "*")
    }

    pub fn enabled(&self) -> Vec<&'static str> {
        ALL.iter().copied().filter(|n| self.is_enabled(n)).collect()
    }

    /// Refuses a selection that needs a capability the provider lacks.
    pub fn check_capabilities(&self, provider: &Provider) -> Result<(), String> {
        let mut missing = Vec::new();
        if self.is_enabled(multicluster_ingress::NAME) && !provider.supports_multicluster_ingress()
        {
            missing.push(format!(
                "controller {} needs MultiClusterIngress load balancers",
                multicluster_ingress::NAME
            ));
        }
        if self.is_enabled(multicluster_service::NAME) && !provider.supports_multicluster_service()
        {
            missing.push(format!(
                "controller {} needs MultiClusterService load balancers",
                multicluster_service::NAME
            ));
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "cloud provider {:?} does not support what the enabled controllers need: {}. Disable them with --controllers (for example --controllers=*,-{}) or use a provider that supports them.",
                provider.name(),
                missing.join("; "),
                if self.is_enabled(multicluster_ingress::NAME)
                    && !provider.supports_multicluster_ingress()
                {
                    multicluster_ingress::NAME
                } else {
                    multicluster_service::NAME
                }
            ))
        }
    }

    /// The caches the enabled controllers need.
    pub fn cache_kinds(&self) -> BTreeSet<CacheKind> {
        let mut kinds = BTreeSet::new();
        for name in self.enabled() {
            kinds.extend(match name {
                multicluster_ingress::NAME => multicluster_ingress::CACHES,
                multicluster_service::NAME => multicluster_service::CACHES,
                crd_installation::NAME => crd_installation::CACHES,
                serviceexport_propagation::NAME => serviceexport_propagation::CACHES,
                mci_service_locations::NAME => mci_service_locations::CACHES,
                _ => &[],
            });
        }
        kinds
    }
}

/// Starts the enabled controllers; each runs until `shutdown` resolves (then finishes its
/// in-flight reconciles) or the returned futures are dropped (leadership lost: stop at once).
pub fn start_enabled(
    ctx: &Arc<Context>,
    shutdown: impl Future<Output = ()> + Clone + Send + Sync + 'static,
) -> Vec<(&'static str, BoxFuture<'static, ()>)> {
    ctx.settings
        .controllers
        .enabled()
        .into_iter()
        .map(|name| {
            let fut = match name {
                multicluster_ingress::NAME => {
                    multicluster_ingress::run(ctx.clone(), shutdown.clone())
                }
                multicluster_service::NAME => {
                    multicluster_service::run(ctx.clone(), shutdown.clone())
                }
                crd_installation::NAME => crd_installation::run(ctx.clone(), shutdown.clone()),
                serviceexport_propagation::NAME => {
                    serviceexport_propagation::run(ctx.clone(), shutdown.clone())
                }
                mci_service_locations::NAME => {
                    mci_service_locations::run(ctx.clone(), shutdown.clone())
                }
                other => unreachable!("unknown controller {other}"),
            };
            (name, fut)
        })
        .collect()
}

/// Sends reconcile requests to one controller.
pub struct Trigger<K: Resource<DynamicType = ()>> {
    tx: mpsc::UnboundedSender<ObjectRef<K>>,
}

impl<K: Resource<DynamicType = ()>> Clone for Trigger<K> {
    fn clone(&self) -> Self {
        Trigger {
            tx: self.tx.clone(),
        }
    }
}

impl<K: Resource<DynamicType = ()>> Trigger<K> {
    pub fn new() -> (Self, mpsc::UnboundedReceiver<ObjectRef<K>>) {
        let (tx, rx) = mpsc::unbounded();
        (Trigger { tx }, rx)
    }

    /// Asks for a reconcile of `namespace/name` (namespace `None` for cluster-scoped kinds).
    pub fn enqueue(&self, name: &str, namespace: Option<&str>) {
        let mut r = ObjectRef::<K>::new(name);
        if let Some(ns) = namespace {
            r = r.within(ns);
        }
        let _ = self.tx.unbounded_send(r);
    }

    pub fn enqueue_obj(&self, obj: &K) {
        let _ = self.tx.unbounded_send(ObjectRef::from_obj(obj));
    }

    /// Enqueues every object in `store` that `wanted` accepts: at start, everything already
    /// there is reconciled once, as the Go controllers do.
    pub fn enqueue_existing(&self, store: &Store<K>, wanted: impl Fn(&K) -> bool)
    where
        K: Clone,
    {
        for obj in store.state() {
            if wanted(&obj) {
                self.enqueue_obj(&obj);
            }
        }
    }
}

/// Go's update predicate, shared by the controllers: spec, annotations or deletion state changed.
pub fn spec_annotations_or_deletion_changed<K: Resource, S: PartialEq>(
    old: &K,
    new: &K,
    spec: impl Fn(&K) -> &S,
) -> bool {
    spec(old) != spec(new)
        || old.meta().annotations != new.meta().annotations
        || old.meta().deletion_timestamp.is_some() != new.meta().deletion_timestamp.is_some()
}

/// Called with a Service's namespace and name.
pub type ServiceHandler = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// Calls `on_service(namespace, name)` for the Service changes the Go controllers react to: a
/// Service created or deleted, or changed in spec, annotations or deletion state; and any change
/// of an EndpointSlice of the Service (`kubernetes.io/service-name`, `derived-` stripped).
pub fn watch_services(
    caches: &crate::context::Caches,
    on_service: ServiceHandler,
) -> [Subscription; 2] {
    let on_slice = on_service.clone();
    [
        caches.services().subscribe(move |change| {
            let relevant = match change {
                Change::Applied {
                    old: Some(old),
                    new,
                } => spec_annotations_or_deletion_changed(*old, *new, |s| &s.spec),
                _ => true,
            };
            let svc = change.object();
            if relevant {
                on_service(
                    svc.meta().namespace.as_deref().unwrap_or_default(),
                    svc.meta().name.as_deref().unwrap_or_default(),
                );
            }
        }),
        caches.endpoint_slices().subscribe(move |change| {
            if let Change::Applied {
                old: Some(old),
                new,
            } = change
                && old.metadata.resource_version == new.metadata.resource_version
            {
                return;
            }
            let slice = change.object();
            if let Some(service) = slice
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(LABEL_SERVICE_NAME))
            {
                let service = service
                    .strip_prefix(DERIVED_SERVICE_PREFIX)
                    .unwrap_or(service);
                on_slice(
                    slice.metadata.namespace.as_deref().unwrap_or_default(),
                    service,
                );
            }
        }),
    ]
}

/// The API of `obj`'s namespace.
pub fn namespaced_api<K>(client: &kube::Client, obj: &K) -> kube::Api<K>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    kube::Api::namespaced(
        client.clone(),
        obj.meta().namespace.as_deref().unwrap_or_default(),
    )
}

/// Sets `obj`'s finalizer list with a merge patch that carries its resourceVersion as a
/// precondition: a concurrent change makes it fail with a conflict (and the object is retried),
/// it never clobbers. Returns the object as written.
pub async fn patch_finalizers<K>(
    api: &kube::Api<K>,
    obj: &K,
    finalizers: Vec<String>,
) -> Result<K, Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    let patch = serde_json::json!({
        "metadata": {
            "resourceVersion": obj.meta().resource_version,
            "finalizers": finalizers,
        }
    });
    let name = obj.meta().name.as_deref().unwrap_or_default();
    Ok(api
        .patch(
            name,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await?)
}

fn key<K: Resource>(obj: &K) -> String {
    format!(
        "{}/{}",
        obj.meta().namespace.as_deref().unwrap_or(""),
        obj.meta().name.as_deref().unwrap_or("")
    )
}

/// Runs one kube-runtime controller over `store`, reconciling the objects `triggers` names.
///
/// Adds what kube-runtime lacks: a per-object backoff on errors (the `--rate-limiter-*` flags),
/// the optional resync, metrics per controller, and a span with the object's namespace and name.
pub async fn run_controller<K, R, Fut>(
    name: &'static str,
    ctx: Arc<Context>,
    store: Store<K>,
    triggers: mpsc::UnboundedReceiver<ObjectRef<K>>,
    reconcile: R,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    R: Fn(Arc<K>, Arc<Context>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Action, Error>> + Send + 'static,
{
    let backoff = Arc::new(Backoff::new(ctx.settings.backoff));
    let labels = ControllerLabels { controller: name };
    let reconcile = Arc::new(reconcile);
    let reconcile_backoff = backoff.clone();
    let policy_backoff = backoff.clone();
    let concurrency = ctx.settings.concurrent_reconciles;
    tracing::info!(controller = name, "controller started");
    Controller::for_shared_stream(futures::stream::pending(), store)
        .reconcile_on(triggers)
        .with_config(Config::default().concurrency(concurrency))
        .graceful_shutdown_on(shutdown)
        .run(
            move |obj: Arc<K>, ctx: Arc<Context>| {
                let reconcile = reconcile.clone();
                let backoff = reconcile_backoff.clone();
                let labels = labels.clone();
                let span = tracing::info_span!(
                    "reconcile",
                    controller = name,
                    namespace = obj.meta().namespace.as_deref().unwrap_or(""),
                    name = obj.meta().name.as_deref().unwrap_or("")
                );
                async move {
                    let started = Instant::now();
                    let key = key(obj.as_ref());
                    let result = reconcile(obj, ctx.clone()).await;
                    ctx.metrics.reconciles.get_or_create(&labels).inc();
                    ctx.metrics
                        .reconcile_duration
                        .get_or_create(&labels)
                        .observe(started.elapsed().as_secs_f64());
                    match result {
                        Ok(action) => {
                            backoff.forget(&key);
                            tracing::debug!(elapsed = ?started.elapsed(), "reconciled");
                            ctx.metrics.pending.get_or_create(&labels).set(backoff.failing() as i64);
                            Ok(match ctx.settings.resync_period {
                                Some(resync) if action == Action::await_change() => Action::requeue(resync),
                                _ => action,
                            })
                        }
                        Err(e) => Err(e),
                    }
                }
                .instrument(span)
            },
            move |obj: Arc<K>, error: &Error, ctx: Arc<Context>| {
                let key = key(obj.as_ref());
                let delay = policy_backoff.next_delay(&key);
                ctx.metrics
                    .reconcile_errors
                    .get_or_create(&ControllerErrorLabels {
                        controller: name,
                        error: error.metric_label(),
                    })
                    .inc();
                ctx.metrics
                    .pending
                    .get_or_create(&ControllerLabels { controller: name })
                    .set(policy_backoff.failing() as i64);
                let (namespace, object) = (
                    obj.meta().namespace.as_deref().unwrap_or(""),
                    obj.meta().name.as_deref().unwrap_or(""),
                );
                if matches!(error, Error::Kube(kube::Error::Api(e)) if e.code == 409) {
                    tracing::debug!(controller = name, namespace, name = object, retry_in = ?delay, "conflict; retrying: {error}");
                } else {
                    tracing::warn!(controller = name, namespace, name = object, retry_in = ?delay, "reconcile failed: {error}");
                }
                Action::requeue(delay)
            },
            ctx,
        )
        .for_each(|result| async move {
            if let Err(e) = result {
                // Reconciler errors are logged by the error policy; this is kube-runtime's own
                // (e.g. an object that vanished from the store before its turn).
                if !matches!(e, kube::runtime::controller::Error::ReconcilerFailed(..)) {
                    tracing::debug!(controller = name, "controller: {e}");
                }
            }
        })
        .await;
    tracing::info!(controller = name, "controller stopped");
}
