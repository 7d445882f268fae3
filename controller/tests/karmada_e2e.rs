//! End to end on **real Karmada v1.16**: Karmada's own API server (with aggregation),
//! kube-controller-manager, karmada-aggregated-apiserver, karmada-webhook, karmada-scheduler and
//! karmada-controller-manager, and member clusters joined in Push mode (testenv's Karmada mode).
//! The Clusters, ResourceBindings, Works, the MCS conditions Karmada writes and what happens to
//! our policies all come from Karmada's components. One thing Karmada-side is written by hand:
//! a status condition on our LoadBalancer MCS, which no Karmada component writes on such an MCS
//! (why, and what is written: `karmada/multiclusterservice.rs`). Member-side, the EndpointSlices
//! kube-controller-manager would write for running pods (members have no nodes), which Karmada
//! collects (`karmada/backends.rs`).
//!
//! One Karmada environment and one controller (all five controllers, the fake provider with a
//! state file, the identity and RBAC of `deploy/karmada-rbac.yaml`) serve every test of this
//! binary (the harness, and how a failing test leaves the others unharmed: `karmada/mod.rs`);
//! each test works in its own namespace (the seed walkthrough in `default`, as the seed does)
//! and adds its own member clusters when it needs to break one. The one test that stops the
//! controller (garbage collection) takes `exclusive`; every other test holds `shared_lock`.

#![forbid(unsafe_code)]

#[path = "karmada/backends.rs"]
mod backends;
pub mod common;
mod karmada;
#[path = "karmada/multiclusterservice.rs"]
mod multiclusterservice;
#[path = "karmada/removal.rs"]
mod removal;

use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use karmada::{
    Shared, binding_clusters, cluster_propagation_policies, clusters, condition, crds,
    placement_clusters, propagation_policies, resource_bindings, service_exports, shared_lock,
    strings,
};
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use mcp_interface::api::networking::MultiClusterIngress;
use serde_json::json;

const MCI_FINALIZER: &str = "karmada.io/multi-cluster-ingress-controller";
const MCS_FINALIZER: &str = "karmada.io/multi-cluster-service-controller";
const CRD_POLICY: &str = "serviceexportpropagation-policy";
const SERVICE_EXPORT_CRD: &str = "serviceexports.multicluster.x-k8s.io";

/// The seed's application (Deployment, Service and PropagationPolicy `serve` on member1 and
/// member2), for a namespace of a test's own.
const APPLICATION: &str = include_str!("../../examples/application.yaml");
const MCI: &str = include_str!("../../examples/mci.yaml");

/// 1. The seed walkthrough on real Karmada: only the seed's files are applied; Karmada's
///    detector and scheduler make the ResourceBinding, our controllers the rest; the ServiceExport
///    and its CRD reach both members.
#[tokio::test]
async fn seed_walkthrough() {
    let (s, _guard) = shared_lock().await;
    let karmada = s.karmada().await;
    // The seed's order: the MCI first, then the application.
    s.apply(MCI, "default").await;
    s.apply(APPLICATION, "default").await;

    let mcis: Api<MultiClusterIngress> = Api::namespaced(karmada.clone(), "default");
    let mci = s
        .eventually("the MCI's address and service locations", || async {
            let mci = mcis.get("minimal-ingress").await.ok()?;
            let status = mci.status.as_ref()?;
            common::mci_ip(&mci)?;
            let locations = status.service_locations.as_ref()?;
            (locations.len() == 1 && locations[0].clusters.as_ref()?.len() == 2).then_some(mci)
        })
        .await;
    assert_eq!(mci.finalizers(), [MCI_FINALIZER.to_owned()]);
    let ip = common::mci_ip(&mci).unwrap();
    assert!(
        ip == "1.2.3.4" || ip == "1.2.3.5",
        "the fake hands out 1.2.3.4 (ensure) or 1.2.3.5 (update), not {ip}"
    );
    let locations = mci
        .status
        .as_ref()
        .unwrap()
        .service_locations
        .clone()
        .unwrap();
    assert_eq!(locations.len(), 1);
    assert_eq!(locations[0].name, "serve");
    assert_eq!(
        locations[0].clusters.clone().unwrap(),
        strings(&["member1", "member2"])
    );
    assert!(
        s.balancers()
            .contains(&"mci/default/minimal-ingress".to_owned())
    );

    // Karmada's own ResourceBinding for the Service, owned by it, placed by the scheduler.
    let binding = resource_bindings(karmada.clone(), "default")
        .get("serve-service")
        .await
        .unwrap();
    assert_eq!(binding_clusters(&binding), strings(&["member1", "member2"]));
    let owner = &binding.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("Service", "serve")
    );
    // Karmada v1.16 names the claiming policy in annotations (labels carry permanent ids).
    assert_eq!(
        binding
            .annotations()
            .get("propagationpolicy.karmada.io/name")
            .map(String::as_str),
        Some("mcs-workload")
    );

    // Ours on the Karmada API server: the ServiceExport and its policy, owned by the Service.
    let service = Api::<Service>::namespaced(karmada.clone(), "default")
        .get("serve")
        .await
        .unwrap();
    let export = service_exports(karmada.clone(), "default")
        .get("serve")
        .await
        .unwrap();
    let policy = s
        .eventually("propagate-service-serve on member1 and member2", || async {
            let policy = propagation_policies(karmada.clone(), "default")
                .get("propagate-service-serve")
                .await
                .ok()?;
            (placement_clusters(&policy) == strings(&["member1", "member2"])).then_some(policy)
        })
        .await;
    for object in [&export, &policy] {
        let owner = &object.owner_references()[0];
        assert_eq!(owner.uid, service.uid().unwrap());
        assert_eq!(owner.controller, Some(true));
    }

    // The ServiceExport CRD, through our ClusterPropagationPolicy, and the ServiceExport itself,
    // through our PropagationPolicy, in both members.
    let cpp = cluster_propagation_policies(karmada.clone())
        .get(CRD_POLICY)
        .await
        .unwrap();
    let cpp_clusters = placement_clusters(&cpp);
    assert!(
        cpp_clusters.contains(&"member1".to_owned())
            && cpp_clusters.contains(&"member2".to_owned()),
        "{CRD_POLICY} places {cpp_clusters:?}"
    );
    for member in ["member1", "member2"] {
        let client = s.member(member).await;
        let what = format!("the ServiceExport CRD in {member}");
        s.wait_exists(&what, &crds(client.clone()), SERVICE_EXPORT_CRD)
            .await;
        let what = format!("ServiceExport default/serve in {member}");
        s.wait_exists(&what, &service_exports(client.clone(), "default"), "serve")
            .await;
    }
}

/// A namespace `name` of the test's own with the seed's application and MCI in it; returns the
/// namespace and a client of the Karmada API server.
async fn with_application(s: &Shared, name: &str) -> (String, kube::Client) {
    let ns = s.namespace(name).await;
    s.apply(APPLICATION, &ns).await;
    s.apply(MCI, &ns).await;
    (ns, s.karmada().await)
}

/// 2. The application's PropagationPolicy moved to member1 only: the service locations, our
///    policy and the member2 ServiceExport follow.
#[tokio::test]
async fn placement_change_follows_the_binding() {
    let (s, _guard) = shared_lock().await;
    let (ns, karmada) = with_application(s, "e2e-placement").await;
    let member2 = s.member("member2").await;
    let exports2 = service_exports(member2.clone(), &ns);
    s.wait_exists("ServiceExport serve in member2", &exports2, "serve")
        .await;

    propagation_policies(karmada.clone(), &ns)
        .patch(
            "mcs-workload",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"placement": {
                "clusterAffinity": {"clusterNames": ["member1"]},
                "replicaScheduling": null,
            }}})),
        )
        .await
        .unwrap();

    let mcis: Api<MultiClusterIngress> = Api::namespaced(karmada.clone(), &ns);
    s.eventually("serviceLocations [member1]", || async {
        let mci = mcis.get("minimal-ingress").await.ok()?;
        let locations = mci.status?.service_locations?;
        (locations.len() == 1 && locations[0].clusters.as_deref() == Some(&strings(&["member1"])))
            .then_some(())
    })
    .await;
    s.eventually("propagate-service-serve on member1 only", || async {
        let policy = propagation_policies(karmada.clone(), &ns)
            .get("propagate-service-serve")
            .await
            .ok()?;
        (placement_clusters(&policy) == strings(&["member1"])).then_some(())
    })
    .await;
    s.eventually("ServiceExport serve gone from member2", || async {
        service_exports(member2.clone(), &ns)
            .get_opt("serve")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
    let member1 = s.member("member1").await;
    assert!(
        service_exports(member1, &ns)
            .get_opt("serve")
            .await
            .unwrap()
            .is_some(),
        "the ServiceExport stays in member1"
    );
}

/// 4. A member cluster unjoined (its Cluster deleted): our ClusterPropagationPolicy drops it.
#[tokio::test]
async fn unjoined_cluster_leaves_the_crd_policy() {
    let (s, _guard) = shared_lock().await;
    let karmada = s.karmada().await;
    let _member3 = s.add_member("member3").await;
    let cpps = cluster_propagation_policies(karmada.clone());
    s.eventually("member3 in the ServiceExport CRD policy", || async {
        let cpp = cpps.get(CRD_POLICY).await.ok()?;
        placement_clusters(&cpp)
            .contains(&"member3".to_owned())
            .then_some(())
    })
    .await;
    let member3 = s.member("member3").await;
    s.wait_exists(
        "the ServiceExport CRD in member3",
        &crds(member3),
        SERVICE_EXPORT_CRD,
    )
    .await;

    // Karmada removes a Cluster only once its execution space and every binding have let go of
    // it, re-checking every 10 s: on a loaded machine that takes a few rounds.
    s.env
        .unjoin_member("member3", Duration::from_secs(300))
        .await
        .unwrap();
    let cpp = s
        .eventually("member3 dropped from the CRD policy", || async {
            let cpp = cpps.get(CRD_POLICY).await.ok()?;
            (!placement_clusters(&cpp).contains(&"member3".to_owned())).then_some(cpp)
        })
        .await;
    let remaining = placement_clusters(&cpp);
    assert!(
        remaining.contains(&"member1".to_owned()) && remaining.contains(&"member2".to_owned()),
        "{remaining:?}"
    );
}

/// 6. A member cluster's API server stopped: Karmada marks its Cluster not Ready, and our
///    controllers keep serving everything else.
#[tokio::test]
async fn stopped_member_turns_not_ready_and_the_rest_is_served() {
    let (s, _guard) = shared_lock().await;
    let karmada = s.karmada().await;
    let _member4 = s.add_member("member4").await;
    let cpps = cluster_propagation_policies(karmada.clone());
    s.eventually("member4 in the CRD policy", || async {
        let cpp = cpps.get(CRD_POLICY).await.ok()?;
        placement_clusters(&cpp)
            .contains(&"member4".to_owned())
            .then_some(())
    })
    .await;

    s.env.stop_member("member4").unwrap();
    let all_clusters = clusters(karmada.clone());
    s.eventually("Cluster member4 not Ready", || async {
        let cluster = all_clusters.get("member4").await.ok()?;
        let ready = condition(&cluster.data, "Ready")?;
        (ready["status"] != "True").then_some(())
    })
    .await;

    // Everything else is still served: a new application and MCI get their address, service
    // locations and ServiceExports in the live members; the CRD policy keeps the dead member
    // (it tolerates the not-ready taint, as Go's does).
    let (ns, _) = with_application(s, "e2e-member-down").await;
    let mcis: Api<MultiClusterIngress> = Api::namespaced(karmada.clone(), &ns);
    s.eventually("the new MCI served while member4 is down", || async {
        let mci = mcis.get("minimal-ingress").await.ok()?;
        common::mci_ip(&mci)?;
        let locations = mci.status?.service_locations?;
        (locations.first()?.clusters.as_deref() == Some(&strings(&["member1", "member2"])))
            .then_some(())
    })
    .await;
    let member1 = s.member("member1").await;
    let exports1 = service_exports(member1, &ns);
    s.wait_exists("its ServiceExport in member1", &exports1, "serve")
        .await;
    let cpp = cpps.get(CRD_POLICY).await.unwrap();
    assert!(placement_clusters(&cpp).contains(&"member4".to_owned()));
    s.check_health().await;
}
