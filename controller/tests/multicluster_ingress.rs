//! The multiclusteringress controller on a real control plane with the real fake provider.

mod common;

use std::time::Duration;

use common::{ControllerOptions, Env, eventually, fake_state};
use kube::api::{Api, DeleteParams};
use mcp_interface::api::networking::MultiClusterIngress;

const MCI: &str = include_str!("../../examples/mci.yaml");
const WAIT: Duration = Duration::from_secs(30);

fn lb_ip(mci: &MultiClusterIngress) -> Option<String> {
    mci.status
        .as_ref()?
        .load_balancer
        .as_ref()?
        .ingress
        .as_ref()?
        .first()?
        .ip
        .clone()
}

#[tokio::test]
async fn an_mci_of_our_class_gets_a_finalizer_and_a_balancer_and_loses_both_on_deletion() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("lbs.json");
    env.apply(common::INGRESS_CLASS, "default").await;
    env.apply(MCI, "default").await;
    let mut controller = env.controller(
        ControllerOptions::new(dir.path())
            .cloud_config(&format!("stateFile: {}", state.display()))
            .arg("--controllers=multiclusteringress"),
    );
    controller.wait_ready(WAIT).await;

    let api: Api<MultiClusterIngress> = Api::namespaced(env.client.clone(), "default");
    let mci = eventually(WAIT, "the MCI's load balancer address", || async {
        let mci = api.get("minimal-ingress").await.ok()?;
        (lb_ip(&mci).as_deref() == Some("1.2.3.4")).then_some(mci)
    })
    .await;
    assert!(
        mci.metadata
            .finalizers
            .unwrap()
            .contains(&"karmada.io/multi-cluster-ingress-controller".to_owned())
    );
    assert_eq!(
        fake_state(&state)["created"],
        serde_json::json!(["mci/default/minimal-ingress"])
    );

    api.delete("minimal-ingress", &DeleteParams::default())
        .await
        .unwrap();
    eventually(WAIT, "the MCI to be gone", || async {
        api.get_opt("minimal-ingress")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    let s = fake_state(&state);
    assert_eq!(s["balancers"], serde_json::json!({}), "{s}");
    assert_eq!(
        s["deleted"],
        serde_json::json!(["mci/default/minimal-ingress"])
    );
    let status = controller.terminate(WAIT).await;
    assert!(status.success(), "{status}\n{}", controller.logs());
}
