//! The backend view resolved from caches holding what Karmada's control plane would.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use mcp_interface::api::networking::{MultiClusterIngress, MultiClusterService};
use mcp_interface::backends::{BackendPort, BalancerAddress, TargetPort};

use super::*;
use crate::cache::{CachedEndpointSlice, CachedService};
use crate::controllers::fixtures::{cache, cluster, object, service_binding};
use crate::controllers::testing::{Cloud, Harness};

const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";

/// MCI `ns/web`: Service `serve` by port name and by number (the same port), `api` by a number
/// it lacks, and the default backend `gone` (no such Service); three TLS entries. Its
/// `serviceLocations` are not written yet (only `serve` on member1): the view takes the clusters
/// from the bindings (`serve` on member1..3, `api` on member1), as the locations will.
const MCI: &str = r#"
metadata: {name: web, namespace: ns, resourceVersion: '1', labels: {app: web}}
spec:
  defaultBackend: {service: {name: gone, port: {number: 80}}}
  tls:
  - {hosts: [a.example.com], secretName: web-tls}
  - {hosts: [b.example.com], secretName: missing-tls}
  - {secretName: bad-tls}
  rules:
  - http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: serve, port: {name: http}}}}
      - {path: /n, pathType: Prefix, backend: {service: {name: serve, port: {number: 80}}}}
      - {path: /g, pathType: Prefix, backend: {service: {name: serve, port: {name: grpc}}}}
      - {path: /a, pathType: Prefix, backend: {service: {name: api, port: {number: 81}}}}
status:
  serviceLocations:
  - {name: serve, clusters: [member1]}
"#;

fn slice(name: &str, label: &str, cluster: Option<&str>, endpoints: &str) -> CachedEndpointSlice {
    let annotations = cluster.map_or(String::new(), |c| {
        format!(", annotations: {{work.karmada.io/namespace: karmada-es-{c}}}")
    });
    object(&format!(
        "metadata: {{name: {name}, namespace: ns, labels: {{kubernetes.io/service-name: {label}}}{annotations}}}\nendpoints: {endpoints}\nports: [{{name: http, port: 8080, protocol: TCP}}]"
    ))
}

/// The caches: Services `serve` (http 80 -> 8080, grpc 9090 -> grpc-port), `api` and `idle`
/// (no binding); member1
/// Ready, member2 Ready and blocked by a remedy, member3 not Ready; `serve`'s binding with the
/// member Services' balancers; slices collected from member1 (two endpoints) and member2 (one,
/// not ready), plus two that are not collected ones.
fn caches() -> Caches {
    let services: Vec<CachedService> = vec![
        object(
            "metadata: {name: serve, namespace: ns}\nspec: {ports: [{name: http, port: 80, targetPort: 8080}, {name: grpc, port: 9090, targetPort: grpc-port, appProtocol: h2c}]}",
        ),
        object("metadata: {name: api, namespace: ns}\nspec: {ports: [{name: web, port: 8080}]}"),
        object("metadata: {name: idle, namespace: ns}\nspec: {ports: [{port: 80}]}"),
    ];
    let slices = vec![
        slice(
            "imported-member1-serve-a",
            "derived-serve",
            Some("member1"),
            "[{addresses: [10.0.0.2], zone: z2}, {addresses: [10.0.0.1], nodeName: n1}]",
        ),
        slice(
            "imported-member2-serve-b",
            "derived-serve",
            Some("member2"),
            "[{addresses: [10.0.1.1], conditions: {ready: false, terminating: true}}]",
        ),
        slice(
            "not-collected",
            "derived-serve",
            None,
            "[{addresses: [10.9.9.9]}]",
        ),
        slice("own", "serve", Some("member1"), "[{addresses: [10.9.9.8]}]"),
    ];
    Caches::default()
        .with(cache(services))
        .with(cache(slices))
        .with(cache([
            cluster("member1", true, false),
            cluster("member2", true, true),
            cluster("member3", false, false),
        ]))
        .with(cache([
            service_binding(
                "ns",
                "serve",
                &["member1", "member2", "member3"],
                &[("member1", "10.1.0.1")],
            ),
            service_binding("ns", "api", &["member1"], &[]),
        ]))
}

fn secret(entries: &[(&str, &[u8])]) -> Option<Secret> {
    Some(Secret {
        data: Some(
            entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), ByteString(v.to_vec())))
                .collect(),
        ),
        ..Secret::default()
    })
}

fn secrets(key: &str) -> BTreeMap<String, Option<Secret>> {
    [
        (
            "web-tls".to_owned(),
            secret(&[("tls.crt", CERT.as_bytes()), ("tls.key", key.as_bytes())]),
        ),
        ("missing-tls".to_owned(), None),
        (
            "bad-tls".to_owned(),
            secret(&[("tls.crt", b"not pem"), ("tls.key", KEY.as_bytes())]),
        ),
    ]
    .into()
}

fn mci() -> MultiClusterIngress {
    object(MCI)
}

/// A resolved TCP port: name, number, appProtocol, targetPort.
fn tcp_port(
    (name, port, app_protocol, target): (Option<String>, i32, Option<String>, TargetPort),
) -> BackendPort {
    BackendPort {
        name,
        port,
        protocol: "TCP".into(),
        app_protocol,
        target_port: Some(target),
        problem: None,
    }
}

/// Each cluster's name, readiness and whether it is blocked.
fn cluster_states(service: &mcp_interface::backends::BackendService) -> Vec<(&str, bool, bool)> {
    service
        .clusters
        .iter()
        .map(|c| (c.name.as_str(), c.ready, c.traffic_blocked))
        .collect()
}

/// `serve`'s clusters: member1 Ready, member2 Ready and blocked, member3 not Ready.
const SERVE_CLUSTERS: [(&str, bool, bool); 3] = [
    ("member1", true, false),
    ("member2", true, true),
    ("member3", false, false),
];

#[test]
fn an_mcis_services_ports_and_clusters_come_from_the_caches() {
    let resolved = mci_view(&caches(), &mci(), &secrets(KEY));
    let view = &resolved.backends;
    assert!(view.resolved);
    let names: Vec<&str> = view.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["api", "gone", "serve"]);

    let serve = view.service("ns", "serve").unwrap();
    assert!(serve.found);
    // By name and by number the same port, once; by name the gRPC port.
    let http = (Some("http".into()), 80, None, TargetPort::Number(8080));
    let grpc = (
        Some("grpc".into()),
        9090,
        Some("h2c".into()),
        TargetPort::Name("grpc-port".into()),
    );
    assert_eq!(serve.ports, [tcp_port(http), tcp_port(grpc)]);
    assert_eq!(cluster_states(serve), SERVE_CLUSTERS);
    let member1 = &serve.clusters[0];
    assert_eq!(
        member1.load_balancer,
        [BalancerAddress {
            ip: Some("10.1.0.1".into()),
            hostname: None
        }]
    );
    // Only the slices collected from member1, sorted by address, with the slice's ports.
    let addresses: Vec<&str> = member1
        .endpoints
        .iter()
        .map(|e| e.addresses[0].as_str())
        .collect();
    assert_eq!(addresses, ["10.0.0.1", "10.0.0.2"]);
    let first = &member1.endpoints[0];
    assert_eq!(
        (first.ready, first.serving, first.terminating),
        (true, true, false)
    );
    assert_eq!(first.node_name.as_deref(), Some("n1"));
    assert_eq!(member1.endpoints[1].zone.as_deref(), Some("z2"));
    assert_eq!(first.ports[0].port, 8080);
    let member2 = &serve.clusters[1];
    assert!(member2.load_balancer.is_empty());
    let e = &member2.endpoints[0];
    assert_eq!((e.ready, e.serving, e.terminating), (false, false, true));
    assert!(serve.clusters[2].endpoints.is_empty());

    // A port the Service lacks is kept, with its problem.
    let api = view.service("ns", "api").unwrap();
    assert_eq!(api.ports.len(), 1);
    assert_eq!(api.ports[0].port, 81);
    assert_eq!(
        api.ports[0].problem.as_deref(),
        Some("Service ns/api has no port 81")
    );
    assert_eq!(api.clusters[0].name, "member1");
    assert!(api.clusters[0].endpoints.is_empty());

    // A Service that does not exist: what the MCI says, no clusters.
    let gone = view.service("ns", "gone").unwrap();
    assert!(!gone.found);
    assert_eq!(gone.ports[0].port, 80);
    assert_eq!(gone.ports[0].problem, None);
    assert!(gone.clusters.is_empty());

    let reasons: Vec<(&str, &str)> = resolved
        .problems
        .iter()
        .map(|p| (p.reason, p.message.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            (PORT_NOT_FOUND, "Service ns/api has no port 81"),
            (SERVICE_NOT_FOUND, "Service ns/gone not found"),
            (INVALID_TLS_SECRET, "TLS Secret ns/missing-tls not found"),
            (
                INVALID_TLS_SECRET,
                "tls.crt of TLS Secret ns/bad-tls holds no PEM certificate"
            ),
        ]
    );
}

#[test]
fn tls_material_is_read_from_the_secrets_and_problems_are_reported_in_the_view() {
    let view = mci_view(&caches(), &mci(), &secrets(KEY)).backends;
    let tls = &view.tls;
    assert_eq!(tls.len(), 3);
    assert_eq!(tls[0].hosts, ["a.example.com"]);
    assert_eq!(tls[0].secret_name, "web-tls");
    assert_eq!(tls[0].certificate.as_deref(), Some(CERT));
    assert_eq!(tls[0].private_key.as_ref().map(|k| k.pem()), Some(KEY));
    assert_eq!(tls[0].problem, None);
    assert_eq!(tls[1].certificate, None);
    assert_eq!(
        tls[1].problem.as_deref(),
        Some("TLS Secret ns/missing-tls not found")
    );
    assert!(tls[2].certificate.is_none() && tls[2].private_key.is_none());

    let check = |entries: &[(&str, &[u8])]| {
        let mut read = secrets(KEY);
        read.insert("web-tls".into(), secret(entries));
        mci_view(&caches(), &mci(), &read).backends.tls[0]
            .problem
            .clone()
            .unwrap_or_default()
    };
    assert_eq!(
        check(&[("tls.crt", CERT.as_bytes())]),
        "TLS Secret ns/web-tls has no tls.key"
    );
    assert_eq!(
        check(&[("tls.crt", CERT.as_bytes()), ("tls.key", &[0xff, 0xfe])]),
        "tls.key of TLS Secret ns/web-tls is not UTF-8 text"
    );
    // A certificate where the key should be.
    assert_eq!(
        check(&[("tls.crt", CERT.as_bytes()), ("tls.key", CERT.as_bytes())]),
        "tls.key of TLS Secret ns/web-tls holds no PEM private key"
    );
    // Malformed base64 inside the PEM armour.
    let broken = "-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----\n";
    assert_eq!(
        check(&[("tls.crt", CERT.as_bytes()), ("tls.key", broken.as_bytes())]),
        "tls.key of TLS Secret ns/web-tls holds no PEM private key"
    );
}

#[tokio::test]
async fn resolving_reads_the_secrets_from_the_api_server() {
    // The mocked API server answers 404 to every GET: each Secret is missing, not an error.
    let mci = mci();
    let h = Harness::new(&mci, Cloud::fake(""), caches());
    let resolved = mci.resolve(&h.ctx).await.unwrap();
    assert!(
        resolved
            .backends
            .tls
            .iter()
            .all(|t| t.certificate.is_none())
    );
    let tls_problems = resolved
        .problems
        .iter()
        .filter(|p| p.reason == INVALID_TLS_SECRET)
        .count();
    assert_eq!(tls_problems, 3);
}

#[test]
fn an_mcss_service_ports_and_clusters_come_from_its_binding() {
    let mcs = |ports: &str| -> MultiClusterService {
        object(&format!(
            "metadata: {{name: serve, namespace: ns}}\nspec: {{types: [LoadBalancer]{ports}}}"
        ))
    };
    let caches = caches();
    let all = resolve_mcs(&caches, &mcs(""));
    let serve = &all.backends.services[0];
    assert_eq!(
        (serve.namespace.as_str(), serve.name.as_str()),
        ("ns", "serve")
    );
    let ports: Vec<i32> = serve.ports.iter().map(|p| p.port).collect();
    assert_eq!(ports, [80, 9090]);
    assert_eq!(cluster_states(serve), SERVE_CLUSTERS);
    assert_eq!(serve.clusters[0].endpoints.len(), 2);
    assert!(all.backends.tls.is_empty() && all.problems.is_empty());

    let selected = resolve_mcs(&caches, &mcs(", ports: [{port: 9090}, {name: x, port: 7}]"));
    let ports: Vec<(i32, Option<&str>)> = selected.backends.services[0]
        .ports
        .iter()
        .map(|p| (p.port, p.problem.as_deref()))
        .collect();
    assert_eq!(
        ports,
        [(7, Some("Service ns/serve has no port 7")), (9090, None)]
    );
    assert_eq!(selected.problems[0].reason, PORT_NOT_FOUND);

    let unbound: MultiClusterService =
        object("metadata: {name: idle, namespace: ns}\nspec: {types: [LoadBalancer]}");
    let idle = resolve_mcs(&caches, &unbound);
    assert!(idle.backends.services[0].found);
    assert!(idle.backends.services[0].clusters.is_empty());
}

#[test]
fn the_digest_follows_what_a_provider_sees() {
    let caches = caches();
    let mci = mci();
    let view = |mci: &MultiClusterIngress, key: &str| {
        EncodedView::of(&mci_view(&caches, mci, &secrets(key)).backends)
    };
    let base = mci.digest(&view(&mci, KEY));
    assert_eq!(base, mci.digest(&view(&mci, KEY)), "not stable");
    assert_eq!(base.to_string().len(), 64);

    // Status and resourceVersion are not inputs.
    let mut status_only = mci.clone();
    status_only.metadata.resource_version = Some("2".into());
    let status = status_only.status.as_mut().unwrap();
    status.load_balancer = Some(Default::default());
    assert_eq!(status_only.digest(&view(&mci, KEY)), base);

    // A rotated key, a label, the spec, the endpoints are.
    let rotated = KEY.replace("MIIE", "MIIF");
    assert_ne!(mci.digest(&view(&mci, &rotated)), base);
    let mut labelled = mci.clone();
    labelled.metadata.labels = Some([("app".to_owned(), "other".to_owned())].into());
    assert_ne!(labelled.digest(&view(&mci, KEY)), base);
    let mut respec = mci.clone();
    respec.spec.as_mut().unwrap().tls = None;
    assert_ne!(respec.digest(&view(&mci, KEY)), base);
    let mut fewer = mci_view(&caches, &mci, &secrets(KEY)).backends;
    fewer.services[2].clusters[0].endpoints.pop();
    assert_ne!(mci.digest(&EncodedView::of(&fewer)), base);
}
