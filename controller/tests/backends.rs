//! The backend view resolved from a real control plane: a Service, the EndpointSlices Karmada
//! would have collected from two members, the Service's binding with a member's balancer,
//! Clusters (one blocked by a remedy, one going not Ready) and an MCI with a TLS Secret, read
//! by the controller's own caches as the API server serves them, and the Secret with a GET.

#![forbid(unsafe_code)]

pub mod common;

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use common::{Env, eventually};
use kube::api::{Api, Patch, PatchParams};
use mcp_interface::api::cluster::Cluster;
use mcp_interface::api::networking::MultiClusterIngress;
use mcp_interface::api::work::ResourceBinding;
use mcp_interface::backends::BalancerAddress;
use mcp_loader::EncodedView;
use multicluster_provider::cli::{Cli, normalize};
use multicluster_provider::context::{CacheKind, Caches, Context};
use multicluster_provider::controllers::backends::{HasBackends, Resolved};
use multicluster_provider::events::Recorder;
use multicluster_provider::metrics::Metrics;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);
const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";

const OBJECTS: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: serve}
spec:
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: imported-member1-serve-a
  labels: {kubernetes.io/service-name: derived-serve, endpointslice.kubernetes.io/managed-by: endpointslice-controller.karmada.io}
  annotations: {work.karmada.io/namespace: karmada-es-member1, work.karmada.io/name: serve-a}
addressType: IPv4
endpoints:
- {addresses: [10.0.0.2], zone: z1}
- {addresses: [10.0.0.1], conditions: {ready: false, terminating: true}}
ports: [{name: http, port: 8080, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: imported-member2-serve-b
  labels: {kubernetes.io/service-name: derived-serve}
  annotations: {work.karmada.io/namespace: karmada-es-member2}
addressType: IPv4
endpoints:
- {addresses: [10.0.1.1], nodeName: n2}
ports: [{name: http, port: 8080, protocol: TCP}]
---
apiVersion: v1
kind: Secret
metadata: {name: serve-tls}
type: Opaque
stringData: {tls.crt: "CERT", tls.key: "KEY"}
---
apiVersion: networking.karmada.io/v1alpha1
kind: MultiClusterIngress
metadata: {name: web}
spec:
  tls: [{hosts: [demo.localdev.me], secretName: serve-tls}, {secretName: absent-tls}]
  rules:
  - http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: serve, port: {name: http}}}}
      - {path: /x, pathType: Prefix, backend: {service: {name: serve, port: {number: 81}}}}
"#;

/// A Context over the controller's caches of the multiclusteringress controller's kinds.
async fn context(env: &Env) -> (Context, multicluster_provider::supervisor::Drivers) {
    let args = [
        "multicluster-provider",
        "--cloud-provider=fake",
        "--provider-ingress-class=karmada.io/fake",
    ];
    let cli = Cli::try_parse_from(normalize(args.map(OsString::from))).unwrap();
    let settings = Arc::new(cli.settings().unwrap());
    let kinds: BTreeSet<CacheKind> = [
        CacheKind::MultiClusterIngresses,
        CacheKind::Services,
        CacheKind::EndpointSlices,
        CacheKind::Clusters,
        CacheKind::ResourceBindings,
        CacheKind::Secrets,
    ]
    .into();
    let metrics = Arc::new(Metrics::new());
    let events = Recorder::new(env.client.clone());
    let (caches, drivers) = Caches::start(&env.client, &kinds, &metrics, &events);
    caches.ready().await;
    let dir = mcp_testenv::fake_provider_dir().unwrap();
    let library = mcp_loader::open(&dir.join(mcp_loader::library_file_name("fake"))).unwrap();
    let provider = library.create(None).unwrap();
    let ctx = Context::new(
        env.client.clone(),
        provider,
        settings,
        Arc::new(caches),
        metrics,
        events,
    );
    (ctx, drivers)
}

async fn resolved(ctx: &Context, why: &str, done: impl Fn(&Resolved) -> bool) -> Resolved {
    let mcis = ctx.caches.mcis().clone();
    eventually(WAIT, why, || async {
        let mci: Arc<MultiClusterIngress> = mcis.get("default", "web")?;
        let resolved = mci.resolve(ctx).await.ok()?;
        done(&resolved).then_some(resolved)
    })
    .await
}

#[tokio::test]
async fn the_view_is_resolved_from_what_the_control_plane_serves() {
    let env = Env::start().await;
    env.apply_karmada_state("default").await;
    let objects = OBJECTS
        .replace("\"CERT\"", &serde_json::to_string(CERT).unwrap())
        .replace("\"KEY\"", &serde_json::to_string(KEY).unwrap());
    env.apply(&objects, "default").await;
    let status = |body: serde_json::Value| Patch::Merge(body);
    let params = PatchParams::default();
    let bindings: Api<ResourceBinding> = Api::namespaced(env.client.clone(), "default");
    let aggregated = json!({"status": {"aggregatedStatus": [{"clusterName": "member1",
        "applied": true, "status": {"loadBalancer": {"ingress": [{"hostname": "lb.member1"}]}}}]}});
    bindings
        .patch_status("serve-service", &params, &status(aggregated))
        .await
        .unwrap();
    let mcis: Api<MultiClusterIngress> = Api::namespaced(env.client.clone(), "default");
    let locations = json!({"status": {"serviceLocations": [
        {"name": "serve", "clusters": ["member1", "member2"]}]}});
    mcis.patch_status("web", &params, &status(locations))
        .await
        .unwrap();
    let clusters: Api<Cluster> = Api::all(env.client.clone());
    let remedy = json!({"status": {"remedyActions": ["TrafficControl"]}});
    clusters
        .patch_status("member2", &params, &status(remedy))
        .await
        .unwrap();

    let (ctx, _drivers) = context(&env).await;
    let first = resolved(&ctx, "a view with both members' endpoints", |r| {
        let serve = r.backends.service("default", "serve");
        serve.is_some_and(|s| s.clusters.len() == 2 && s.clusters[1].traffic_blocked)
    })
    .await;
    let view = &first.backends;
    let serve = view.service("default", "serve").unwrap();
    assert!(serve.found);
    // By name, resolved; by a number the Service lacks, kept with its problem.
    assert_eq!(
        (serve.ports[0].port, serve.ports[0].problem.as_deref()),
        (80, None)
    );
    let missing = &serve.ports[1];
    assert_eq!(missing.port, 81);
    let problem = missing.problem.as_deref();
    assert_eq!(problem, Some("Service default/serve has no port 81"));
    let (member1, member2) = (&serve.clusters[0], &serve.clusters[1]);
    assert_eq!((member1.name.as_str(), member1.ready), ("member1", true));
    assert!(!member1.traffic_blocked);
    let hostname = Some("lb.member1".to_owned());
    assert_eq!(
        member1.load_balancer,
        [BalancerAddress { ip: None, hostname }]
    );
    let addresses: Vec<(&str, bool, bool)> = member1
        .endpoints
        .iter()
        .map(|e| (e.addresses[0].as_str(), e.ready, e.terminating))
        .collect();
    assert_eq!(
        addresses,
        [("10.0.0.1", false, true), ("10.0.0.2", true, false)]
    );
    assert_eq!(member2.endpoints[0].node_name.as_deref(), Some("n2"));
    assert_eq!(view.tls[0].certificate.as_deref(), Some(CERT));
    assert_eq!(view.tls[0].private_key.as_ref().unwrap().pem(), KEY);
    assert_eq!(
        view.tls[1].problem.as_deref(),
        Some("TLS Secret default/absent-tls not found")
    );
    let mci = ctx.caches.mcis().get("default", "web").unwrap();
    let digest = mci.digest(&EncodedView::of(view));

    // member2 goes not Ready, and the Secret is rotated: both reach the view and its digest.
    let not_ready = json!({"status": {"conditions": [{"type": "Ready", "status": "False",
        "reason": "ClusterNotReachable", "message": "gone",
        "lastTransitionTime": "2026-01-02T00:00:00Z"}]}});
    clusters
        .patch_status("member2", &params, &status(not_ready))
        .await
        .unwrap();
    let rotated = KEY.replace("MIIE", "MIIF");
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(env.client.clone(), "default");
    secrets
        .patch(
            "serve-tls",
            &params,
            &Patch::Merge(json!({"stringData": {"tls.key": rotated}})),
        )
        .await
        .unwrap();
    let second = resolved(&ctx, "member2 not Ready and the new key", |r| {
        let serve = r.backends.service("default", "serve");
        let key = r.backends.tls[0].private_key.as_ref().map(|k| k.pem());
        serve.is_some_and(|s| !s.clusters[1].ready) && key == Some(rotated.as_str())
    })
    .await;
    assert_ne!(mci.digest(&EncodedView::of(&second.backends)), digest);
}
