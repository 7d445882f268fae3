//! `cargo bench -p mcp-loader --bench boundary`: one `ensure` of a realistic MultiClusterIngress
//! (3 rules, TLS, about 1.3 KB of JSON) across the library boundary, against the same fake
//! provider called in-process. Prints p50/p90/p99 per call for:
//!
//! - in-process: the fake's trait method called directly (no serialization, no FFI);
//! - boundary (sync): JSON encode (as the handle does it, [`Encoded`]) + FFI call into the loaded
//!   `.so` + JSON decode, on this thread;
//! - handle (async): the controller's path, `Provider::mci_ensure` (adds the hop to a blocking
//!   thread and the timeout).
//!
//! Then the same three with the backend view of interface 1.2 (the fake takes it): its Service
//! `shop` in 3 clusters with 20 endpoints each, the member balancers, and the TLS certificate
//! and key (about 17 KB of JSON), encoded once per call as the controller does
//! ([`Encoded::with_backends`]) and sent through the one `call` entry; and the two halves of
//! the view's own crossing: the host encoding it, the provider's SDK decoding it. (The fake's
//! in-process work then includes keeping each balancer's view, as JSON without private keys.)
//!
//! The process allocates with jemalloc, as the controller does.

#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use abi_stable::std_types::{ROption, RResult, RStr};
use k8s_openapi::api::networking::v1::IngressLoadBalancerStatus;
use mcp_interface::abi::{CallReply, call_kind, call_method};
use mcp_interface::api::networking::MultiClusterIngress;
use mcp_interface::backends::Backends;
use mcp_interface::sdk::{MultiClusterIngressBalancer, MultiClusterIngressLoadBalancer};
use mcp_loader::{Encoded, SearchPath};

const ITERATIONS: usize = 20_000;

/// The controller's allocator, which the provider library uses too (unprefixed `malloc`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn realistic_mci(name: &str) -> MultiClusterIngress {
    let rule = |host: &str, svc: &str| {
        serde_json::json!({
            "host": host,
            "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": svc, "port": {"number": 80}}}},
                {"path": "/api", "pathType": "Prefix", "backend": {"service": {"name": format!("{svc}-api"), "port": {"name": "http"}}}}
            ]}
        })
    };
    serde_json::from_value(serde_json::json!({
        "apiVersion": "networking.karmada.io/v1alpha1",
        "kind": "MultiClusterIngress",
        "metadata": {
            "name": name, "namespace": "shop", "uid": "5c1b2a34-6f0e-4c7a-9d3e-2b1f0a9c8d7e",
            "resourceVersion": "123456", "generation": 3,
            "annotations": {"nginx.ingress.kubernetes.io/rewrite-target": "/"},
            "labels": {"app": "shop", "tier": "frontend"}
        },
        "spec": {
            "ingressClassName": "fake",
            "tls": [{"hosts": ["shop.example.com", "api.example.com"], "secretName": "shop-tls"}],
            "defaultBackend": {"service": {"name": "default-http", "port": {"number": 80}}},
            "rules": [rule("shop.example.com", "shop"), rule("api.example.com", "api"), rule("static.example.com", "static")]
        },
        "status": {"serviceLocations": [{"name": "shop", "clusters": ["member1", "member2"]}]}
    }))
    .unwrap()
}

/// The backend view of `realistic_mci`'s Service `shop`: 3 clusters (one blocked), each with
/// its member balancer and 20 endpoints on two ports; the TLS entry with a certificate and key of
/// a realistic size. The other Services are not found (ports only).
fn realistic_view() -> Backends {
    let endpoints = |cluster: usize| -> Vec<serde_json::Value> {
        (0..20)
            .map(|i| {
                serde_json::json!({
                    "addresses": [format!("10.{cluster}.{}.{}", i / 10, i % 250 + 1)],
                    "ports": [{"name": "http", "port": 8080, "protocol": "TCP"},
                              {"name": "metrics", "port": 9090, "protocol": "TCP"}],
                    "ready": i % 7 != 0, "serving": true, "terminating": i % 7 == 0,
                    "zone": format!("zone-{}", i % 3), "nodeName": format!("node-{cluster}-{}", i % 5)
                })
            })
            .collect()
    };
    let clusters: Vec<serde_json::Value> = (1..=3)
        .map(|c| {
            serde_json::json!({
                "name": format!("member{c}"), "ready": true, "trafficBlocked": c == 3,
                "loadBalancer": [{"ip": format!("192.0.2.{c}")}], "endpoints": endpoints(c)
            })
        })
        .collect();
    let port = |name: &str, port: i32| serde_json::json!({"name": name, "port": port, "protocol": "TCP", "targetPort": 8080});
    let absent = |name: &str| {
        serde_json::json!({"namespace": "shop", "name": name, "found": false,
            "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]})
    };
    let pem = |label: &str, bytes: usize| {
        let body = "A".repeat(bytes).into_bytes();
        let lines: Vec<&str> = body
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    };
    serde_json::from_value(serde_json::json!({
        "resolved": true,
        "services": [
            absent("api"), absent("api-api"), absent("default-http"),
            {"namespace": "shop", "name": "shop", "found": true,
             "ports": [port("http", 80)], "clusters": clusters},
            absent("shop-api"), absent("static"), absent("static-api"),
        ],
        "tls": [{"hosts": ["shop.example.com", "api.example.com"], "secretName": "shop-tls",
                 "certificate": pem("CERTIFICATE", 1200), "privateKey": pem("PRIVATE KEY", 1600)}]
    }))
    .unwrap()
}

/// The runtime of the async handle's measures: two workers, as on the controller's two cores.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn percentiles(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let at = |p: f64| samples[((samples.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1e6;
    format!(
        "p50 {:>7.2} µs   p90 {:>7.2} µs   p99 {:>7.2} µs",
        at(0.5),
        at(0.9),
        at(0.99)
    )
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("boundary: bench");
        return;
    }
    let dir = mcp_testenv::build_fake_provider(true).expect("build the fake provider");
    let search = SearchPath::only(&[dir]);
    let names: Vec<String> = (0..ITERATIONS).map(|i| format!("web-{i}")).collect();
    let objects: Vec<MultiClusterIngress> = names.iter().map(|n| realistic_mci(n)).collect();
    let size = serde_json::to_vec(&objects[0]).unwrap().len();
    println!(
        "object: MultiClusterIngress with 3 rules and TLS, {size} bytes of JSON; {ITERATIONS} calls each"
    );

    // In-process: the same provider, called directly.
    let in_process = mcp_provider_fake::FakeProvider::from_cloud_config(None).unwrap();
    let mut samples = Vec::with_capacity(ITERATIONS);
    for mci in &objects {
        let t = Instant::now();
        let status = MultiClusterIngressLoadBalancer::ensure(&in_process, mci).unwrap();
        samples.push(t.elapsed());
        std::hint::black_box(status);
    }
    println!("in-process       {}", percentiles(samples));

    // Across the boundary, synchronously: what the FFI hop and JSON cost.
    let library = mcp_loader::open(&search.resolve("fake").unwrap()).unwrap();
    let _provider = library.create(None).unwrap();
    let ensure = library.module().mci_ensure().unwrap();
    let mut samples = Vec::with_capacity(ITERATIONS);
    for mci in &objects {
        let t = Instant::now();
        let input = Encoded::new(mci);
        let RResult::ROk(out) = ensure(0, RStr::from_str(input.json().unwrap())) else {
            panic!("ensure failed")
        };
        let status: IngressLoadBalancerStatus = serde_json::from_str(out.as_str()).unwrap();
        samples.push(t.elapsed());
        std::hint::black_box(status);
    }
    println!("boundary (sync)  {}", percentiles(samples));

    // The controller's path: async handle, blocking thread, timeout.
    let provider = library.create(None).unwrap();
    let samples = runtime().block_on(async {
        let mut samples = Vec::with_capacity(ITERATIONS);
        for mci in &objects {
            let t = Instant::now();
            let status = provider.ensure(mci).await.unwrap();
            samples.push(t.elapsed());
            std::hint::black_box(status);
        }
        samples
    });
    println!("handle (async)   {}", percentiles(samples));

    with_view(&objects, &library);
}

/// The three measures again, each call with the backend view.
fn with_view(objects: &[MultiClusterIngress], library: &mcp_loader::Library) {
    let view = realistic_view();
    let view_size = serde_json::to_vec(&view).unwrap().len();
    println!();
    println!(
        "with the backend view: 1 Service in 3 clusters x 20 endpoints, member balancers, TLS; {view_size} bytes of JSON"
    );

    let view_json = serde_json::to_string(&view).unwrap();
    let mut encode = Vec::with_capacity(objects.len());
    let mut decode = Vec::with_capacity(objects.len());
    for _ in objects {
        let t = Instant::now();
        std::hint::black_box(serde_json::to_string(&view).unwrap());
        encode.push(t.elapsed());
        let t = Instant::now();
        std::hint::black_box(serde_json::from_str::<Backends>(&view_json).unwrap());
        decode.push(t.elapsed());
    }
    println!("view encode      {}", percentiles(encode));
    println!("view decode      {}", percentiles(decode));

    let in_process = mcp_provider_fake::FakeProvider::from_cloud_config(None).unwrap();
    let mut samples = Vec::with_capacity(objects.len());
    for mci in objects {
        let t = Instant::now();
        let applied = MultiClusterIngressBalancer::ensure(&in_process, mci, &view).unwrap();
        samples.push(t.elapsed());
        std::hint::black_box(applied);
    }
    println!("in-process       {}", percentiles(samples));

    // A fresh instance (the earlier ones' balancers exist), through the one 1.2 entry.
    let RResult::ROk(instance) = (library.module().create())(ROption::RNone) else {
        panic!("the fake's factory failed")
    };
    let call = library
        .module()
        .call()
        .expect("the fake offers interface 1.2's call entry");
    let mut samples = Vec::with_capacity(objects.len());
    for mci in objects {
        let t = Instant::now();
        let input = mcp_loader::Encoded::with_backends(mci, &view);
        let reply = call(
            instance,
            call_kind::MULTICLUSTER_INGRESS,
            call_method::ENSURE,
            RStr::from_str(input.json().unwrap()),
            RStr::from_str(input.backends_json().unwrap().unwrap()),
        );
        let reply: CallReply<IngressLoadBalancerStatus> =
            serde_json::from_str(reply.as_str()).unwrap();
        samples.push(t.elapsed());
        assert!(matches!(reply, CallReply::Ok { .. }), "ensure failed");
        std::hint::black_box(reply);
    }
    println!("boundary (sync)  {}", percentiles(samples));

    let provider = library.create(None).unwrap();
    assert!(provider.wants_backends(), "the fake takes the view");
    let samples = runtime().block_on(async {
        let mut samples = Vec::with_capacity(objects.len());
        for mci in objects {
            let t = Instant::now();
            let payload = mcp_loader::Encoded::with_backends(mci, &view);
            let applied = provider.ensure(&payload).await.unwrap();
            samples.push(t.elapsed());
            std::hint::black_box(applied);
        }
        samples
    });
    println!("handle (async)   {}", percentiles(samples));
}
