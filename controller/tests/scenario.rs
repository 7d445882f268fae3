//! The Go original's scenario, end to end with all five controllers: IngressClass `fake`
//! (default), examples/mci.yaml and application.yaml, and the ResourceBinding Karmada would write
//! placing `serve` on member1 and member2 (`Env::apply_karmada_state`). The controller runs as it
//! is deployed: as the user deploy/karmada-rbac.yaml binds, with that RBAC, so a request the
//! scenario needs and the RBAC refuses shows as `forbidden` in its log (rbac.rs checks the RBAC
//! itself, rule by rule).

#![forbid(unsafe_code)]

pub mod common;

use std::time::Duration;

use common::{ControllerOptions, DEPLOY_RBAC, Env, eventually, fake_state};
use kube::api::{Api, DeleteParams};
use mcp_interface::api::mcs::ServiceExport;
use mcp_interface::api::networking::MultiClusterIngress;
use mcp_interface::api::policy::PropagationPolicy;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn the_original_scenario() {
    let (env, kubeconfig) = Env::start_with_rbac(DEPLOY_RBAC, Vec::new()).await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("fake-cloud.db");
    env.apply(common::INGRESS_CLASS, "default").await;
    env.apply(include_str!("../../examples/mci.yaml"), "default")
        .await;
    env.apply(include_str!("../../examples/application.yaml"), "default")
        .await;
    env.apply_karmada_state("default").await;
    let mut controller = env.controller(
        ControllerOptions::new(dir.path())
            // The Go original's scenario: a provider without the backend view (one with it is
            // updated once the service locations change what it sees: 1.2.3.5).
            .cloud_config(&format!("stateFile: {}\nbackendView: off", state.display()))
            .with_kubeconfig(&kubeconfig),
    );
    controller.wait_ready(WAIT).await;

    let mcis: Api<MultiClusterIngress> = Api::namespaced(env.client.clone(), "default");
    let mci = eventually(WAIT, "finalizer, service locations and address", || async {
        let mci = mcis.get("minimal-ingress").await.ok()?;
        let status = mci.status.as_ref()?;
        let ip = status
            .load_balancer
            .as_ref()?
            .ingress
            .as_ref()?
            .first()?
            .ip
            .clone()?;
        let locations = status.service_locations.as_ref()?;
        (ip == "1.2.3.4" && !locations.is_empty()).then_some(mci.clone())
    })
    .await;
    assert_eq!(
        mci.metadata.finalizers.as_deref(),
        Some(&["karmada.io/multi-cluster-ingress-controller".to_owned()][..])
    );
    let locations = mci
        .status
        .as_ref()
        .unwrap()
        .service_locations
        .as_ref()
        .unwrap();
    assert_eq!(locations.len(), 1);
    assert_eq!(locations[0].name, "serve");
    assert_eq!(
        locations[0].clusters.as_deref(),
        Some(&["member1".to_owned(), "member2".to_owned()][..])
    );

    let exports: Api<ServiceExport> = Api::namespaced(env.client.clone(), "default");
    let policies: Api<PropagationPolicy> = Api::namespaced(env.client.clone(), "default");
    let policy = eventually(
        WAIT,
        "the ServiceExport and its PropagationPolicy",
        || async {
            exports.get_opt("serve").await.ok()??;
            policies.get_opt("propagate-service-serve").await.ok()?
        },
    )
    .await;
    let names = policy
        .spec
        .placement
        .as_ref()
        .and_then(|p| p.cluster_affinity.as_ref())
        .and_then(|a| a.cluster_names.clone());
    assert_eq!(
        names,
        Some(vec!["member1".to_owned(), "member2".to_owned()])
    );

    mcis.delete("minimal-ingress", &DeleteParams::default())
        .await
        .unwrap();
    common::wait_gone(&mcis, "minimal-ingress", WAIT).await;
    let s = fake_state(&state);
    assert!(
        s["balancers"]
            .as_object()
            .unwrap()
            .keys()
            .all(|k| !k.starts_with("mci/")),
        "{s}"
    );
    assert_eq!(
        s["deleted"],
        serde_json::json!(["mci/default/minimal-ingress"])
    );
    let logs = controller.logs();
    assert!(
        !logs.contains("forbidden"),
        "a request was refused:\n{logs}"
    );
    let status = controller.terminate(WAIT).await;
    assert!(status.success());
}
