//! The MCI reconcile with a provider that takes the backend view (interface 1.2): calls only
//! when the object or its view changed, a balancer still being provisioned, a retry hint.

use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::IngressClass;
use kube::runtime::controller::Action;
use mcp_interface::api::cluster::Cluster;
use mcp_interface::api::networking::MultiClusterIngress;
use mcp_interface::api::work::ResourceBinding;
use mcp_provider_fake::UPDATED_IP;
use serde_json::json;

use super::reconcile::reconcile;
use crate::cache::{CachedEndpointSlice, CachedService};
use crate::context::Caches;
use crate::controllers::fixtures::{MCI, cache, object};
use crate::controllers::testing::{Cloud, Harness, Sent, load_balancer};

const GET: &str = "multiclusteringress_get";
const ENSURE: &str = "multiclusteringress_ensure";
const UPDATE: &str = "multiclusteringress_update";

const DEFAULT_CLASS: &str = include_str!("../../../../examples/ingressclass-fake.yaml");

fn web() -> MultiClusterIngress {
    let mut mci: MultiClusterIngress = object(MCI);
    mci.metadata.resource_version = Some("1".into());
    mci
}

/// Every cache the view is resolved from; Service `serve` exists, the others do not.
fn caches() -> Caches {
    let serve: Service = object(
        "metadata: {name: serve, namespace: ns}\nspec: {ports: [{port: 80, targetPort: 8080}]}",
    );
    Caches::default()
        .with(cache([object::<IngressClass>(DEFAULT_CLASS)]))
        .with(cache([CachedService::from(&serve)]))
        .with(cache(Vec::<CachedEndpointSlice>::new()))
        .with(cache(Vec::<ResourceBinding>::new()))
        .with(cache(Vec::<Cluster>::new()))
}

fn harness(cloud: &str) -> Harness {
    Harness::new(&web(), Cloud::fake(cloud), caches())
}

/// The value of the metric line starting with `series`, 0 when absent.
fn metric(h: &Harness, series: &str) -> u64 {
    h.ctx
        .metrics
        .encode()
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0)
}

const SKIPPED: &str =
    r#"multicluster_provider_provider_updates_skipped_total{kind="MultiClusterIngress"}"#;

#[tokio::test]
async fn the_provider_is_called_again_only_when_the_object_or_its_view_changed() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.db");
    let mut h = harness(&format!(
        "backendView: optional\nstateFile: {}",
        state.display()
    ));
    assert!(h.ctx.provider.wants_backends());
    h.run(reconcile, web()).await.unwrap();
    assert_eq!(h.cloud.take(), [GET, ENSURE]);
    h.api.take();
    // The fake keeps the view it was given: the MCI's three Services, `serve` found.
    let view = Cloud::stored_view(&state, "mci/ns/web").expect("a stored view");
    assert_eq!(view["resolved"], true);
    let services: Vec<_> = view["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["found"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        services,
        [("api", false), ("fallback", false), ("serve", true)]
    );
    // A Service the MCI names is missing: a Warning, not a failed call.
    assert!(
        h.events()
            .iter()
            .any(|e| e.starts_with("Warning BackendServiceNotFound")),
        "{:?}",
        h.events()
    );

    // Reconciled again with nothing changed (a status write of ours, an unrelated slice): the
    // controller handled it (the counter moved) and made no call.
    assert_eq!(metric(&h, SKIPPED), 0);
    h.run(reconcile, h.api.object()).await.unwrap();
    assert_eq!(metric(&h, SKIPPED), 1);
    assert_eq!(h.cloud.take(), Vec::<String>::new());
    assert_eq!(h.api.take(), Vec::<Sent>::new());

    // The object changed: get and update, with the view.
    let mut changed: MultiClusterIngress = h.api.object();
    changed.metadata.annotations =
        Some([("example.com/changed".to_owned(), "1".to_owned())].into());
    h.run(reconcile, changed).await.unwrap();
    assert_eq!(h.cloud.take(), [GET, UPDATE]);
    assert_eq!(metric(&h, SKIPPED), 1);
}

#[tokio::test]
async fn a_balancer_still_being_provisioned_is_checked_back_after_the_providers_delay() {
    let cloud = "backendView: optional\nfaults: [{method: mci_ensure, action: inprogress, checkAfterMs: 5000}]";
    let mut h = harness(cloud);
    let done = h.run(reconcile, web()).await.unwrap();
    assert_eq!(done, Action::requeue(Duration::from_secs(5)));
    assert_eq!(h.cloud.take(), [GET, ENSURE]);
    assert!(
        h.events()
            .iter()
            .any(|e| e.starts_with("Normal ProvisioningLoadBalancer")),
        "{:?}",
        h.events()
    );
    let hints = r#"multicluster_provider_provider_hints_total{kind="MultiClusterIngress",hint="in_progress"}"#;
    assert_eq!(metric(&h, hints), 1);
    // The status so far has no address: nothing to write but the finalizer.
    assert_eq!(h.api.take().len(), 1);
    // The check back is not skipped as unchanged: it updates, and the address is written.
    h.run(reconcile, h.api.object()).await.unwrap();
    assert_eq!(h.cloud.take(), [GET, UPDATE]);
    let written = h.api.take();
    assert_eq!(
        written,
        [Sent::status(
            json!({"loadBalancer": load_balancer(UPDATED_IP)})
        )]
    );
}

#[tokio::test]
async fn a_retry_hint_is_carried_by_the_error_and_told_in_the_event() {
    let cloud = "backendView: optional\nfaults: [{method: mci_ensure, action: fail, message: throttled, retryAfterMs: 7000}]";
    let mut h = harness(cloud);
    let error = h.run(reconcile, web()).await.unwrap_err();
    assert_eq!(error.retry_after(), Some(Duration::from_secs(7)));
    let events = h.events();
    assert!(
        events.iter().any(|e| e.contains("asked to retry in 7s")),
        "{events:?}"
    );
    let hints = r#"multicluster_provider_provider_hints_total{kind="MultiClusterIngress",hint="retry_after"}"#;
    assert_eq!(metric(&h, hints), 1);
}
