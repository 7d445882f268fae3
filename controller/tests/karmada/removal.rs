//! Removal: what our controllers made goes when its owner goes, through our controllers
//! (deletion of the MCI, the MCS and the Service) or, while ours is down, through Karmada's
//! garbage collector (the ownerReferences we write).

use k8s_openapi::api::core::v1::Service;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams};
use mcp_interface::api::networking::{MultiClusterIngress, MultiClusterService};

use super::common::eventually;
use super::karmada::{
    WAIT, count, exclusive, propagation_policies, resource_bindings, service_exports, shared_lock,
    works,
};
use super::with_application;

/// 5. Deleting the MCI, the MCS and the Service leaves nothing behind: no ServiceExport, policy,
///    binding or Work on Karmada, no ServiceExport or Service in the members, no balancer in the
///    fake cloud.
#[tokio::test]
async fn deletion_leaves_nothing_behind() {
    let (s, _guard) = shared_lock().await;
    let (ns, karmada) = with_application(s, "e2e-delete").await;
    s.apply(
        &format!(
            "apiVersion: networking.karmada.io/v1alpha1\nkind: MultiClusterService\nmetadata:\n  name: serve\n  namespace: {ns}\nspec:\n  types: [LoadBalancer]\n  ports: [{{port: 80}}]\n"
        ),
        &ns,
    )
    .await;
    let members = [s.member("member1").await, s.member("member2").await];
    for member in &members {
        let exports = service_exports(member.clone(), &ns);
        s.wait_exists("the ServiceExport in the member", &exports, "serve")
            .await;
    }
    let mci_key = format!("mci/{ns}/minimal-ingress");
    let mcs_key = format!("mcs/{ns}/serve");
    s.eventually("both balancers in the fake cloud", || async {
        let balancers = s.balancers();
        (balancers.contains(&mci_key) && balancers.contains(&mcs_key)).then_some(())
    })
    .await;

    let background = DeleteParams::background();
    Api::<MultiClusterIngress>::namespaced(karmada.clone(), &ns)
        .delete("minimal-ingress", &background)
        .await
        .unwrap();
    Api::<MultiClusterService>::namespaced(karmada.clone(), &ns)
        .delete("serve", &background)
        .await
        .unwrap();
    Api::<Service>::namespaced(karmada.clone(), &ns)
        .delete("serve", &background)
        .await
        .unwrap();

    s.eventually(
        "nothing left on Karmada, the members or the cloud",
        || async {
            let exports = count(service_exports(karmada.clone(), &ns), |_| true).await?;
            let ours = count(propagation_policies(karmada.clone(), &ns), |p| {
                p.name_any().starts_with("propagate-service-")
            })
            .await?;
            let stale_bindings = count(resource_bindings(karmada.clone(), &ns), |b| {
                b.name_any() != "serve-deployment"
            })
            .await?;
            let stale_works = count(works(karmada.clone()), |w| {
                let annotation = |key: &str| w.annotations().get(key).map(String::as_str);
                annotation("resourcebinding.karmada.io/namespace") == Some(ns.as_str())
                    && annotation("resourcebinding.karmada.io/name") != Some("serve-deployment")
            })
            .await?;
            let mut in_members = 0;
            for member in &members {
                in_members += count(service_exports(member.clone(), &ns), |_| true).await?;
                in_members += Api::<Service>::namespaced(member.clone(), &ns)
                    .get_opt("serve")
                    .await
                    .ok()?
                    .iter()
                    .count();
            }
            let balancers = s.balancers();
            let in_cloud = balancers.contains(&mci_key) || balancers.contains(&mcs_key);
            (exports == 0
                && ours == 0
                && stale_bindings == 0
                && stale_works == 0
                && in_members == 0
                && !in_cloud)
                .then_some(())
        },
    )
    .await;
}

/// Karmada's garbage collector (kube-controller-manager) removes our ServiceExport and policy
/// when their Service goes while our controller is down: the ownerReferences are right.
#[tokio::test]
async fn garbage_collector_removes_what_a_deleted_service_owned() {
    let (s, _guard) = exclusive().await;
    let (ns, karmada) = with_application(s, "e2e-gc").await;
    let exports = service_exports(karmada.clone(), &ns);
    let policies = propagation_policies(karmada.clone(), &ns);
    s.eventually("our ServiceExport and policy", || async {
        exports.get_opt("serve").await.ok()??;
        policies.get_opt("propagate-service-serve").await.ok()?
    })
    .await;

    s.stop_controller().await;
    Api::<Service>::namespaced(karmada.clone(), &ns)
        .delete("serve", &DeleteParams::background())
        .await
        .unwrap();
    let gone = eventually(WAIT, "the garbage collector to delete them", || async {
        let export = exports.get_opt("serve").await.ok()?;
        let policy = policies.get_opt("propagate-service-serve").await.ok()?;
        (export.is_none() && policy.is_none()).then_some(())
    })
    .await;
    s.start_controller().await;
    gone
}
