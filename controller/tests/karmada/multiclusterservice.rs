//! 3. MultiClusterServices next to Karmada's own MCS controller. On Karmada v1.16 the two never
//!    serve the same MCS: Karmada's webhook refuses an MCS with two types (`[LoadBalancer,
//!    CrossCluster]`) and any change of `spec.types`, and Karmada's MCS controller (behind the
//!    `MultiClusterService` gate) handles `CrossCluster` MCSs only, ours `LoadBalancer` ones. So:
//!    each leaves the other's MCSs alone across several reconciles of each, and our status
//!    writes keep a condition Karmada (or anyone) put on our MCS.
//!
//! The one thing written by hand here: that condition on our LoadBalancer MCS. Karmada v1.16
//! writes MCS conditions from two controllers of karmada-controller-manager, both running here:
//! the MCS controller (`ServiceApplied`) and the EndpointSlice dispatch controller
//! (`EndpointSliceDispatched`); both only for CrossCluster MCSs (the MCS controller's watch
//! predicates drop every other MCS, the dispatch controller acts on the EndpointSlice Works of
//! CrossCluster MCSs), and an MCS cannot be both or change type. So no Karmada component ever
//! writes a condition onto a LoadBalancer MCS: the test copies the `ServiceApplied` condition
//! Karmada wrote on the CrossCluster MCS onto ours, as another writer of the status would.

use k8s_openapi::api::core::v1::{Event, Service};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use mcp_interface::api::networking::MultiClusterService;
use serde_json::json;

use super::{APPLICATION, MCS_FINALIZER, Shared, condition, shared_lock};

/// Our MCS controller, by controller-runtime's name (the label of its queue metrics).
const OURS: &str = "multiclusterservice-controller";

/// Changes a Service's port 80's target port (a new one each time): one reconcile for the MCS of
/// its name, by ours (LoadBalancer) or Karmada's (CrossCluster). The MCSs select port 80, so
/// each change also changes what the fake's backend view says of it (a port the MCS does not
/// select would not: then our controller makes no call).
struct Touch {
    services: Api<Service>,
    port: i32,
}

impl Touch {
    async fn service(&mut self, name: &str) {
        self.port += 1;
        let ports =
            json!({"spec": {"ports": [{"name": "http", "port": 80, "targetPort": self.port}]}});
        self.services
            .patch(name, &PatchParams::default(), &Patch::Merge(ports))
            .await
            .unwrap();
    }
}

/// Shows that our controller has handled every change made before this call: Service `web`
/// changes after them, on the same watches (our caches deliver a watch's changes in order, and
/// our mappers see them one after the other), so once our reconcile of MCS `web` has called the
/// cloud, our mappers have seen the earlier changes; and once our MCS controller is idle,
/// whatever they queued has been reconciled.
async fn ours_caught_up(s: &Shared, touch: &mut Touch, web: &str) {
    let before = s.cloud_calls("mcs_update", web);
    touch.service("web").await;
    s.eventually("our reconcile of the LoadBalancer MCS", || async {
        (s.cloud_calls("mcs_update", web) > before).then_some(())
    })
    .await;
    s.wait_idle(OURS).await;
}

/// Nothing of ours on MCS `serve`: no finalizer, no load balancer status, no cloud call.
async fn assert_ours_absent(s: &Shared, mcss: &Api<MultiClusterService>, serve: &str) {
    let mcs = mcss.get("serve").await.unwrap();
    let value = serde_json::to_value(&mcs).unwrap();
    assert!(
        value["status"]["loadBalancer"]["ingress"].is_null(),
        "our load balancer status on a CrossCluster MCS: {value}"
    );
    assert!(
        !mcs.finalizers().iter().any(|f| f == MCS_FINALIZER),
        "our finalizer on a CrossCluster MCS: {value}"
    );
    for method in ["mcs_get", "mcs_ensure", "mcs_update", "mcs_ensure_deleted"] {
        assert_eq!(
            s.cloud_calls(method, serve),
            0,
            "{method} for a CrossCluster MCS"
        );
    }
}

#[tokio::test]
async fn multiclusterservice_types_and_karmada_conditions() {
    let (s, _guard) = shared_lock().await;
    let ns = s.namespace("e2e-mcs").await;
    let karmada = s.karmada().await;
    s.apply(APPLICATION, &ns).await;
    s.apply(
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}], selector: {app: serve}}\n",
        &ns,
    )
    .await;
    let mcss: Api<MultiClusterService> = Api::namespaced(karmada.clone(), &ns);
    let mcs = |name: &str, types: &[&str]| -> MultiClusterService {
        serde_json::from_value(json!({
            "apiVersion": "networking.karmada.io/v1alpha1",
            "kind": "MultiClusterService",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"types": types, "ports": [{"port": 80}]},
        }))
        .unwrap()
    };
    let mut touch = Touch {
        services: Api::namespaced(karmada.clone(), &ns),
        port: 8080,
    };
    let (serve, web) = (format!("{ns}/serve"), format!("{ns}/web"));

    // Both types at once: refused by Karmada's validating webhook, so nothing is created.
    let refused = mcss
        .create(
            &PostParams::default(),
            &mcs("serve", &["LoadBalancer", "CrossCluster"]),
        )
        .await
        .expect_err("Karmada v1.16 refuses an MCS with two types");
    assert!(
        refused
            .to_string()
            .contains("should not contain more than one type"),
        "{refused}"
    );

    // LoadBalancer first: ours provisions it (and its reconciles show below that ours has
    // caught up with the CrossCluster MCS's changes).
    mcss.create(&PostParams::default(), &mcs("web", &["LoadBalancer"]))
        .await
        .unwrap();
    s.eventually("our load balancer on the LoadBalancer MCS", || async {
        let mcs = mcss.get("web").await.ok()?;
        let value = serde_json::to_value(&mcs).ok()?;
        value["status"]["loadBalancer"]["ingress"][0]["ip"].as_str()?;
        (mcs.finalizers() == [MCS_FINALIZER.to_owned()]).then_some(())
    })
    .await;

    // CrossCluster: Karmada's MCS controller writes its condition; ours keeps out (no finalizer,
    // no load balancer status, no cloud call), checked each time after ours has handled the
    // change, across several of Karmada's reconciles (each Service change is one; Karmada
    // records an Event `SyncServiceSucceed` per reconcile).
    mcss.create(&PostParams::default(), &mcs("serve", &["CrossCluster"]))
        .await
        .unwrap();
    let karmada_applied = || async {
        let value = serde_json::to_value(mcss.get("serve").await.ok()?).ok()?;
        let applied = condition(&value, "ServiceApplied")?;
        (applied["status"] == "True").then_some(())
    };
    s.eventually("Karmada's ServiceApplied condition", karmada_applied)
        .await;
    ours_caught_up(s, &mut touch, &web).await;
    assert_ours_absent(s, &mcss, &serve).await;
    for _ in 0..2 {
        let before = karmada_reconciles(&karmada, &ns).await;
        touch.service("serve").await;
        s.eventually("another reconcile by Karmada's MCS controller", || async {
            (karmada_reconciles(&karmada, &ns).await > before).then_some(())
        })
        .await;
        ours_caught_up(s, &mut touch, &web).await;
        assert_ours_absent(s, &mcss, &serve).await;
        s.eventually("Karmada's condition still there", karmada_applied)
            .await;
    }

    // Nor can an MCS change type.
    let immutable = mcss
        .patch(
            "serve",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"types": ["LoadBalancer"]}})),
        )
        .await
        .expect_err("Karmada v1.16 refuses a change of an MCS's types");
    assert!(immutable.to_string().contains("immutable"), "{immutable}");

    // A condition on our LoadBalancer MCS survives our status writes, across several of our
    // reconciles (a Service change is one: an `update` call to the cloud). Written by hand (see
    // the module documentation): Karmada's own `ServiceApplied` condition of the CrossCluster
    // MCS, copied over.
    let serve_value = serde_json::to_value(mcss.get("serve").await.unwrap()).unwrap();
    let karmada_condition = condition(&serve_value, "ServiceApplied").unwrap().clone();
    mcss.patch_status(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"conditions": [karmada_condition.clone()]}})),
    )
    .await
    .unwrap();
    for _ in 0..3 {
        let before = s.cloud_calls("mcs_update", &web);
        touch.service("web").await;
        s.eventually("another reconcile by ours", || async {
            (s.cloud_calls("mcs_update", &web) > before).then_some(())
        })
        .await;
        s.eventually("our address beside the condition", || async {
            let value = serde_json::to_value(mcss.get("web").await.ok()?).ok()?;
            let ip = value["status"]["loadBalancer"]["ingress"][0]["ip"].as_str()?;
            (ip == "1.2.3.5" && condition(&value, "ServiceApplied") == Some(&karmada_condition))
                .then_some(())
        })
        .await;
    }
    s.wait_idle(OURS).await;
    assert_ours_absent(s, &mcss, &serve).await;
}

/// How many reconciles Karmada's MCS controller reported for MCS `<ns>/serve` (the counts of its
/// `SyncServiceSucceed` Events).
async fn karmada_reconciles(karmada: &Client, ns: &str) -> i64 {
    let events: Api<Event> = Api::namespaced(karmada.clone(), ns);
    events
        .list(&Default::default())
        .await
        .map(|list| {
            list.items
                .iter()
                .filter(|e| {
                    e.reason.as_deref() == Some("SyncServiceSucceed")
                        && e.involved_object.kind.as_deref() == Some("MultiClusterService")
                })
                .map(|e| e.count.unwrap_or(1).max(1) as i64)
                .sum()
        })
        .unwrap_or(0)
}
