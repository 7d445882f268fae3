//! What the provider sees of an MCI's backends (interface 1.2's backend view), on real Karmada.
//!
//! Members have no nodes, so the test writes in each member the EndpointSlice
//! kube-controller-manager would write for running `serve` pods
//! ([`mcp_testenv::endpoints::write_endpoint_slice`], member-side only). Karmada's ServiceExport
//! controller collects them into the control plane (`imported-<cluster>-<slice>`, labelled
//! `kubernetes.io/service-name: derived-serve`); the controller builds the view from those, the
//! binding, the Clusters and the TLS Secret, and the fake provider stores the view of its last
//! `ensure`/`update` per balancer, which the test reads.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use mcp_testenv::endpoints::{PodEndpoint, slice_name, write_endpoint_slice};
use mcp_testenv::pki::{CertificateAuthority, CertifiedKey};
use serde_json::{Value, json};

use crate::karmada::{Shared, clusters, service_exports, shared_lock};
use crate::{APPLICATION, MCI};

const NS: &str = "e2e-backends";
const MCI_KEY: &str = "mci/e2e-backends/minimal-ingress";
/// The member this test adds, blocks with a Remedy and stops.
const MEMBER: &str = "member5";
const MEMBERS: [&str; 3] = ["member1", "member2", MEMBER];

/// Another Service with an MCI of its own, whose EndpointSlices are unrelated to
/// `minimal-ingress`.
const OTHER: &str = "
apiVersion: v1
kind: Service
metadata: {name: other}
spec:
  ports: [{port: 80, targetPort: 8080}]
  selector: {app: other}
---
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: other}
spec:
  resourceSelectors: [{apiVersion: v1, kind: Service, name: other}]
  placement: {clusterAffinity: {clusterNames: [member1]}}
---
apiVersion: networking.karmada.io/v1alpha1
kind: MultiClusterIngress
metadata: {name: other-ingress}
spec:
  defaultBackend: {service: {name: other, port: {number: 80}}}
";

/// The fake's stored view of balancer `key` (`None` before its first ensure/update).
fn view(s: &Shared, key: &str) -> Option<Value> {
    let view = s.fake_balancer(key)?["backends"].clone();
    (!view.is_null()).then_some(view)
}

/// The view's cluster `cluster` of Service `service`.
fn cluster<'a>(view: &'a Value, service: &str, cluster: &str) -> Option<&'a Value> {
    view["services"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == service)?["clusters"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == cluster)
}

/// The addresses of a view cluster's endpoints, sorted.
fn addresses(cluster: &Value) -> Vec<String> {
    let mut all: Vec<String> = cluster["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|e| e["addresses"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    all.sort();
    all
}

/// Every provider call the fake served for `object` (`<ns>/<name>`), any method.
fn calls_for(s: &Shared, object: &str) -> usize {
    crate::common::fake_state(s.state_file())["calls"]
        .as_array()
        .map(|calls| calls.iter().filter(|c| c["object"] == object).count())
        .unwrap_or(0)
}

/// What the fake stores in place of private key `pem`: its SHA-256 (docs/fake-provider.md).
fn key_marker(pem: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(pem.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Writes Secret `serve-tls` (type `kubernetes.io/tls`) with `pair`.
async fn write_tls_secret(secrets: &Api<Secret>, pair: &CertifiedKey) {
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": "serve-tls"},
        "stringData": {"tls.crt": pair.cert_pem, "tls.key": pair.key_pem}});
    let apply = PatchParams::apply("e2e-backends").force();
    secrets
        .patch("serve-tls", &apply, &Patch::Apply(secret))
        .await
        .unwrap();
}

fn remedies(client: kube::Client) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("remedy.karmada.io", "v1alpha1", "Remedy");
    Api::all_with(client, &ApiResource::from_gvk_with_plural(&gvk, "remedies"))
}

/// The member-side slice of `serve` in `member` with pods at `addresses`.
async fn write_serve_slice(s: &Shared, member: &str, addresses: &[&str]) {
    let endpoints: Vec<PodEndpoint> = addresses
        .iter()
        .map(|a| {
            PodEndpoint::ready(a, &format!("{member}-node")).in_zone(&format!("{member}-zone"))
        })
        .collect();
    let client = s.member(member).await;
    write_endpoint_slice(
        &client,
        NS,
        "serve",
        &slice_name("serve", member),
        &endpoints,
    )
    .await
    .unwrap_or_else(|e| panic!("writing serve's EndpointSlice in {member}: {e}"));
}

/// Endpoints appearing, a scale-up, a TLS rotation, an unrelated slice, a Remedy and a stopped
/// member, each reaching (or, for the unrelated slice, not reaching) the provider's view.
#[tokio::test]
async fn backend_view_follows_members_endpoints_remedies_and_tls() {
    let (s, _guard) = shared_lock().await;
    let _member5 = s.add_member(MEMBER).await;
    let ns = s.namespace(NS).await;
    let karmada = s.karmada().await;

    let ca = CertificateAuthority::new("e2e-backends-ca").unwrap();
    let first = ca
        .serving("serve.example.com", &["serve.example.com"])
        .unwrap();
    let secrets: Api<Secret> = Api::namespaced(karmada.clone(), &ns);
    write_tls_secret(&secrets, &first).await;
    // The seed's application placed on member5 as well, and the seed's MCI with a TLS entry.
    let placement = "        - member1\n        - member2\n";
    assert!(APPLICATION.contains(placement));
    let application =
        APPLICATION.replacen(placement, &format!("{placement}        - {MEMBER}\n"), 1);
    s.apply(&application, &ns).await;
    let mci = format!("{MCI}  tls:\n  - hosts: [serve.example.com]\n    secretName: serve-tls\n");
    s.apply(&mci, &ns).await;
    s.apply(OTHER, &ns).await;

    // 1. Endpoints appear: once the Service and its ServiceExport reach a member, the slice
    //    kube-controller-manager would write there; Karmada collects it into the control plane.
    let addresses_of = BTreeMap::from([
        ("member1", "10.10.0.5"),
        ("member2", "10.20.0.7"),
        (MEMBER, "10.50.0.9"),
    ]);
    for member in MEMBERS {
        let client = s.member(member).await;
        let what = format!("ServiceExport {ns}/serve in {member}");
        s.wait_exists(&what, &service_exports(client, &ns), "serve")
            .await;
        write_serve_slice(s, member, &[addresses_of[member]]).await;
    }
    let imported: Api<EndpointSlice> = Api::namespaced(karmada.clone(), &ns);
    let collected = s
        .eventually(
            "Karmada to collect serve's slices of the three members",
            || async {
                let list = imported
                    .list(&ListParams::default().labels("kubernetes.io/service-name=derived-serve"))
                    .await
                    .ok()?;
                (list.items.len() == MEMBERS.len()).then_some(list.items)
            },
        )
        .await;
    for member in MEMBERS {
        let name = format!("imported-{member}-{}", slice_name("serve", member));
        let slice = collected
            .iter()
            .find(|e| e.name_any() == name)
            .unwrap_or_else(|| panic!("no {name} among the collected slices"));
        assert_eq!(
            slice.annotations().get("work.karmada.io/namespace"),
            Some(&format!("karmada-es-{member}"))
        );
    }
    let view_now = || view(s, MCI_KEY).unwrap_or(Value::Null);
    let seen = s
        .eventually(
            "the provider's view: serve's endpoints in the three members",
            || async {
                let view = view(s, MCI_KEY)?;
                let complete = MEMBERS.iter().all(|m| {
                    cluster(&view, "serve", m).is_some_and(|c| addresses(c) == [addresses_of[m]])
                });
                complete.then_some(view)
            },
        )
        .await;
    let member1 = cluster(&seen, "serve", "member1").unwrap();
    assert_eq!(member1["ready"], true, "{member1}");
    assert_eq!(member1["trafficBlocked"], false, "{member1}");
    let endpoint = &member1["endpoints"][0];
    assert_eq!(
        (&endpoint["ready"], &endpoint["nodeName"], &endpoint["zone"]),
        (&json!(true), &json!("member1-node"), &json!("member1-zone")),
        "{endpoint}"
    );
    assert_eq!(endpoint["ports"][0]["port"], 8080, "{endpoint}");
    let port = &seen["services"][0]["ports"][0];
    assert_eq!(
        (&port["port"], &port["targetPort"]),
        (&json!(80), &json!(8080)),
        "{port}"
    );
    let tls = &seen["tls"][0];
    assert_eq!(tls["secretName"], "serve-tls", "{tls}");
    assert_eq!(tls["certificate"], first.cert_pem.as_str());
    assert_eq!(
        tls["privateKey"],
        key_marker(&first.key_pem).as_str(),
        "{tls}"
    );

    // 2. A scale-up in member1 reaches the provider.
    write_serve_slice(s, "member1", &["10.10.0.5", "10.10.0.6"]).await;
    s.eventually(
        "member1's second endpoint in the provider's view",
        || async {
            let view = view(s, MCI_KEY)?;
            (addresses(cluster(&view, "serve", "member1")?) == ["10.10.0.5", "10.10.0.6"])
                .then_some(())
        },
    )
    .await;

    // 3. The TLS Secret rotated: the provider gets the new certificate and key.
    let second = ca
        .serving("serve.example.com", &["serve.example.com"])
        .unwrap();
    write_tls_secret(&secrets, &second).await;
    let rotated = s
        .eventually("the rotated certificate in the provider's view", || async {
            let view = view(s, MCI_KEY)?;
            (view["tls"][0]["certificate"] == second.cert_pem.as_str()).then_some(view)
        })
        .await;
    let tls = &rotated["tls"][0];
    assert_eq!(
        tls["privateKey"],
        key_marker(&second.key_pem).as_str(),
        "{tls}"
    );

    // 4. An unrelated EndpointSlice (Service `other`, behind `other-ingress` only): handled, and
    //    no call for minimal-ingress.
    s.eventually("other-ingress's first view", || async {
        view(s, "mci/e2e-backends/other-ingress")
    })
    .await;
    s.wait_idle("multiclusteringress-controller").await;
    let object = format!("{ns}/minimal-ingress");
    let calls_before = calls_for(s, &object);
    let events_before = s
        .metric_sum(
            "multicluster_provider_cache_events_total",
            &[("kind", "EndpointSlice")],
        )
        .await;
    let client = s.member("member1").await;
    let other = [PodEndpoint::ready("10.10.1.1", "member1-node")];
    let name = slice_name("other", "member1");
    s.wait_exists(
        &format!("ServiceExport {ns}/other in member1"),
        &service_exports(client.clone(), &ns),
        "other",
    )
    .await;
    write_endpoint_slice(&client, &ns, "other", &name, &other)
        .await
        .unwrap();
    s.eventually("other's endpoint in other-ingress's view", || async {
        let view = view(s, "mci/e2e-backends/other-ingress")?;
        (addresses(cluster(&view, "other", "member1")?) == ["10.10.1.1"]).then_some(())
    })
    .await;
    let events_after = s
        .metric_sum(
            "multicluster_provider_cache_events_total",
            &[("kind", "EndpointSlice")],
        )
        .await;
    assert!(
        events_after > events_before,
        "the controller's EndpointSlice cache saw the slice"
    );
    s.wait_idle("multiclusteringress-controller").await;
    assert_eq!(
        calls_for(s, &object),
        calls_before,
        "an unrelated EndpointSlice made a provider call for {object}"
    );
    assert_eq!(
        view_now(),
        rotated,
        "minimal-ingress's stored view is unchanged"
    );

    // 5. A Remedy with TrafficControl on member5: the cluster stays in the view, blocked.
    let remedy_name = "e2e-backends-block-member5";
    let remedy: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "remedy.karmada.io/v1alpha1", "kind": "Remedy",
        "metadata": {"name": remedy_name},
        "spec": {"clusterAffinity": {"clusterNames": [MEMBER]}, "actions": ["TrafficControl"]},
    }))
    .unwrap();
    let remedy_api = remedies(karmada.clone());
    remedy_api
        .patch(
            remedy_name,
            &PatchParams::apply("e2e-backends").force(),
            &Patch::Apply(&remedy),
        )
        .await
        .unwrap();
    let blocked = s
        .eventually("member5 trafficBlocked in the provider's view", || async {
            let view = view(s, MCI_KEY)?;
            (cluster(&view, "serve", MEMBER)?["trafficBlocked"] == true).then_some(view)
        })
        .await;
    assert_eq!(
        cluster(&blocked, "serve", "member1").unwrap()["trafficBlocked"],
        false
    );
    remedy_api
        .delete(remedy_name, &DeleteParams::default())
        .await
        .unwrap();

    // 6. member5's API server stopped: Karmada marks its Cluster not Ready; the view follows.
    s.env.stop_member(MEMBER).unwrap();
    let all_clusters = clusters(karmada.clone());
    s.eventually("Cluster member5 not Ready", || async {
        let cluster = all_clusters.get(MEMBER).await.ok()?;
        let ready = crate::karmada::condition(&cluster.data, "Ready")?;
        (ready["status"] != "True").then_some(())
    })
    .await;
    let down = s
        .eventually("member5 ready: false in the provider's view", || async {
            let view = view(s, MCI_KEY)?;
            (cluster(&view, "serve", MEMBER)?["ready"] == false).then_some(view)
        })
        .await;
    assert_eq!(cluster(&down, "serve", "member1").unwrap()["ready"], true);
    s.check_health().await;
}
