//! What stands behind the bench's objects with `--backends`, as Karmada would write it: Clusters
//! member1 and member2 (Ready), and for each Service `web-i` its ResourceBinding placing it on
//! both and the two EndpointSlices Karmada collected from them (`imported-memberN-web-i`, label
//! `kubernetes.io/service-name: derived-web-i`, annotation `work.karmada.io/namespace`), each
//! with three endpoints. A provider that takes the backend view then gets a view with two
//! clusters of three endpoints per Service.

use futures::StreamExt;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use mcp_interface::api::cluster::Cluster;
use mcp_interface::api::work::ResourceBinding;

use super::objects::NAMESPACE;

/// The member clusters every Service is placed on.
pub const CLUSTERS: [&str; 2] = ["member1", "member2"];

/// How many creations are in flight at once.
const IN_FLIGHT: usize = 32;

fn binding(i: usize) -> ResourceBinding {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": format!("web-{i}-service")},
        "spec": {
            "resource": {"apiVersion": "v1", "kind": "Service", "name": format!("web-{i}"),
                         "namespace": NAMESPACE},
            "clusters": CLUSTERS.iter().map(|c| serde_json::json!({"name": c})).collect::<Vec<_>>(),
        }
    }))
    .unwrap()
}

fn slice(i: usize, member: usize) -> EndpointSlice {
    let endpoints: Vec<serde_json::Value> = (1..=3)
        .map(|e| {
            serde_json::json!({
                "addresses": [format!("10.{member}.{}.{}", i / 64, i % 64 * 3 + e)],
                "conditions": {"ready": true},
                "zone": format!("zone-{e}"),
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({
        "metadata": {
            "name": format!("imported-{}-web-{i}", CLUSTERS[member]),
            "labels": {"kubernetes.io/service-name": format!("derived-web-{i}")},
            "annotations": {"work.karmada.io/namespace": format!("karmada-es-{}", CLUSTERS[member])},
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }))
    .unwrap()
}

/// Creates the Clusters, then the bindings and slices of Services `0..n`.
pub async fn create(client: &Client, n: usize) {
    let clusters: Api<Cluster> = Api::all(client.clone());
    let pp = PostParams::default();
    for name in CLUSTERS {
        let cluster: Cluster = serde_json::from_value(serde_json::json!({
            "metadata": {"name": name}, "spec": {"syncMode": "Push"}
        }))
        .unwrap();
        clusters.create(&pp, &cluster).await.unwrap();
        let ready = serde_json::json!({"status": {"conditions": [{"type": "Ready",
            "status": "True", "reason": "ClusterReady", "message": "ready",
            "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
        clusters
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&ready))
            .await
            .unwrap();
    }
    let bindings: Api<ResourceBinding> = Api::namespaced(client.clone(), NAMESPACE);
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), NAMESPACE);
    futures::stream::iter(0..n)
        .map(|i| {
            let (bindings, slices) = (bindings.clone(), slices.clone());
            async move {
                let pp = PostParams::default();
                bindings.create(&pp, &binding(i)).await.unwrap();
                for member in 0..CLUSTERS.len() {
                    slices.create(&pp, &slice(i, member)).await.unwrap();
                }
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<_>>()
        .await;
}
