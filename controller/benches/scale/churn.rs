//! EndpointSlice churn (`--churn`): the controller's CPU time per EndpointSlice event, which must
//! not grow with N (the MCIs of a Service are found through an index, not by scanning all N).

use std::time::{Duration, Instant};

use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use mcp_interface::api::networking::MultiClusterIngress;

use super::measure;
use super::objects::NAMESPACE;

/// How many updates of an EndpointSlice no MCI refers to.
pub const EVENTS: usize = 2000;

/// Updates an EndpointSlice of a Service no MCI references [`EVENTS`] times, then one of Service
/// `web-0`, whose MCI is then updated (the fake's `update` address, 1.2.3.5): once it is, the
/// controller has handled every event before it (they come on one watch). With `collected`
/// (`--backends`), the slice of `web-0` is the one Karmada collected from member1, so that it is
/// in the backend view; without, a provider that takes the view would see no change. Returns
/// the controller's CPU time per event.
pub async fn cpu_per_event(client: &Client, pid: u32, collected: bool) -> Duration {
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), NAMESPACE);
    let apply = |name: &'static str, service: &'static str, revision: usize| {
        let slices = slices.clone();
        async move {
            // Karmada names the slices it collects `imported-<cluster>-...` and annotates them
            // with the cluster's execution namespace.
            let annotations = if name.starts_with("imported-member1-") {
                serde_json::json!({"work.karmada.io/namespace": "karmada-es-member1"})
            } else {
                serde_json::json!({})
            };
            let slice = serde_json::json!({
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": name, "labels": {"kubernetes.io/service-name": service},
                             "annotations": annotations},
                "addressType": "IPv4",
                "endpoints": [{"addresses": [format!("10.0.{}.{}", revision / 250, revision % 250 + 1)]}],
            });
            slices
                .patch(
                    name,
                    &PatchParams::apply("bench").force(),
                    &Patch::Apply(slice),
                )
                .await
                .unwrap();
        }
    };
    apply("unreferenced-1", "unreferenced", 0).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = measure::cpu_seconds(pid);
    for revision in 1..=EVENTS {
        apply("unreferenced-1", "unreferenced", revision).await;
    }
    if collected {
        apply("imported-member1-web-0", "derived-web-0", 0).await;
    } else {
        apply("web-0-1", "web-0", 0).await;
    }
    let mcis: Api<MultiClusterIngress> = Api::namespaced(client.clone(), NAMESPACE);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mci = mcis.get("web-0").await.unwrap();
        let ip = mci
            .status
            .and_then(|s| s.load_balancer)
            .and_then(|l| l.ingress)
            .and_then(|i| i.first().and_then(|i| i.ip.clone()));
        if ip.as_deref() == Some("1.2.3.5") {
            break;
        }
        assert!(Instant::now() < deadline, "the churn was not handled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Duration::from_secs_f64((measure::cpu_seconds(pid) - before) / (EVENTS + 1) as f64)
}
