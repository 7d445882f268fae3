//! Events as Go's recorders and Kubernetes' load-balancer controller write them, as `kubectl`
//! shows them.

use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, DeleteParams, ListParams};
use mcp_interface::api::networking::MultiClusterIngress;

use super::{INGRESS_CLASS, WAIT, env_with_examples, wait_for_addresses};
use crate::common::{ControllerOptions, eventually, kubectl, stdout_of};

fn events_of<'a>(events: &'a [Event], kind: &str, name: &str) -> Vec<&'a Event> {
    events
        .iter()
        .filter(|e| {
            e.involved_object.kind.as_deref() == Some(kind)
                && e.involved_object.name.as_deref() == Some(name)
        })
        .collect()
}

fn reasons(events: &[&Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| e.reason.clone().unwrap_or_default())
        .collect()
}

/// Events as the Go original's recorders write them (core/v1, `source.component` the
/// controller's name, repeats counted), MCIs' with Kubernetes' load-balancer reasons, and as
/// `kubectl get events` and `kubectl describe` show them.
#[tokio::test]
async fn events_as_go_and_kubernetes_record_them() {
    let env = env_with_examples().await;
    let dir = tempfile::tempdir().unwrap();
    let mut controller = env.controller(
        ControllerOptions::new(dir.path())
            // The Go original's Events: a provider without the backend view (whose problems,
            // such as MCS web's missing Service, are Warnings of their own).
            .cloud_config(concat!(
                "backendView: off\n",
                "faults:\n",
                "- {method: mci_ensure, object: default/minimal-ingress, action: fail, times: 3, message: quota exceeded}\n",
                "- {method: mcs_ensure, object: default/web, action: fail, times: 2, message: no capacity}\n",
            ))
            .arg("--controllers=multiclusteringress,multiclusterservice"),
    );
    controller.wait_ready(WAIT).await;
    wait_for_addresses(&env).await;

    let api: Api<Event> = Api::namespaced(env.client.clone(), "default");
    let events = eventually(WAIT, "the MCI's events", || async {
        let events = api.list(&ListParams::default()).await.ok()?.items;
        let mci = events_of(&events, "MultiClusterIngress", "minimal-ingress");
        let failed = mci
            .iter()
            .find(|e| e.reason.as_deref() == Some("SyncLoadBalancerFailed"))?;
        (failed.count == Some(3) && reasons(&mci).contains(&"EnsuredLoadBalancer".to_owned()))
            .then_some(events)
    })
    .await;
    let mci = events_of(&events, "MultiClusterIngress", "minimal-ingress");
    let mut mci_reasons = reasons(&mci);
    mci_reasons.sort();
    // Ensuring is recorded before each of the four creation attempts: one event, count 4.
    assert_eq!(
        mci_reasons,
        [
            "EnsuredLoadBalancer",
            "EnsuringLoadBalancer",
            "SyncLoadBalancerFailed"
        ]
    );
    for event in &mci {
        assert_eq!(
            event.source.as_ref().and_then(|s| s.component.as_deref()),
            Some("multiclusteringress-controller")
        );
        assert_eq!(
            event.reporting_component.as_deref(),
            Some("multiclusteringress-controller")
        );
        assert!(event.first_timestamp.is_some() && event.last_timestamp.is_some());
    }
    let failed = mci
        .iter()
        .find(|e| e.reason.as_deref() == Some("SyncLoadBalancerFailed"))
        .unwrap();
    assert_eq!(failed.type_.as_deref(), Some("Warning"));
    let message = failed.message.as_deref().unwrap();
    assert!(
        message.contains("EnsureLoadBalancer") && message.contains("quota exceeded"),
        "{message}"
    );

    let mcs = events_of(&events, "MultiClusterService", "web");
    assert_eq!(reasons(&mcs), ["MCSLoadBalance"], "Go's reason");
    assert_eq!(mcs[0].count, Some(2));
    assert_eq!(
        mcs[0].source.as_ref().and_then(|s| s.component.as_deref()),
        Some("multiclusterservice-controller")
    );

    // As kubectl shows them.
    let kubeconfig = env.kubeconfig().to_owned();
    let kubectl_out = move |args: &[&str]| {
        stdout_of(
            std::process::Command::new(kubectl())
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .args(args),
        )
    };
    let describe = kubectl_out(&["-n", "default", "describe", "mci", "minimal-ingress"]);
    let warning = describe
        .lines()
        .find(|l| l.contains("SyncLoadBalancerFailed"))
        .unwrap_or_else(|| panic!("{describe}"));
    assert!(warning.trim_start().starts_with("Warning"), "{warning}");
    assert!(warning.contains("(x3 over"), "{warning}");
    assert!(
        warning.contains("multiclusteringress-controller"),
        "{warning}"
    );
    let describe = kubectl_out(&["-n", "default", "describe", "mcs", "web"]);
    assert!(
        describe
            .lines()
            .any(|l| l.contains("MCSLoadBalance") && l.contains("multiclusterservice-controller")),
        "{describe}"
    );
    let listed = kubectl_out(&["-n", "default", "get", "events"]);
    assert!(
        listed.contains("multiclusteringress/minimal-ingress")
            && listed.contains("EnsuredLoadBalancer"),
        "{listed}"
    );

    // Deletion: Deleting, then Deleted. (Before the classes turn ambiguous below: an MCI whose
    // class is ambiguous is not ours to delete.)
    let mcis: Api<MultiClusterIngress> = Api::namespaced(env.client.clone(), "default");
    mcis.delete("minimal-ingress", &DeleteParams::default())
        .await
        .unwrap();
    eventually(WAIT, "the deletion events", || async {
        let events = api.list(&ListParams::default()).await.ok()?.items;
        let mci = reasons(&events_of(
            &events,
            "MultiClusterIngress",
            "minimal-ingress",
        ));
        (mci.contains(&"DeletingLoadBalancer".to_owned())
            && mci.contains(&"DeletedLoadBalancer".to_owned()))
        .then_some(())
    })
    .await;

    // A configuration problem the user must fix: a second default IngressClass.
    env.apply(
        &INGRESS_CLASS.replace("name: fake", "name: other"),
        "default",
    )
    .await;
    env.apply(
        "apiVersion: networking.karmada.io/v1alpha1\nkind: MultiClusterIngress\nmetadata: {name: classless}\nspec: {defaultBackend: {service: {name: serve, port: {number: 80}}}}\n",
        "default",
    )
    .await;
    let invalid = eventually(WAIT, "an InvalidIngressClass warning", || async {
        let events = api.list(&ListParams::default()).await.ok()?.items;
        events.into_iter().find(|e| {
            e.involved_object.name.as_deref() == Some("classless")
                && e.reason.as_deref() == Some("InvalidIngressClass")
        })
    })
    .await;
    assert_eq!(invalid.type_.as_deref(), Some("Warning"));
    assert!(
        invalid.message.as_deref().unwrap().contains("fake, other"),
        "{invalid:?}"
    );
    assert!(controller.terminate(WAIT).await.success());
}
