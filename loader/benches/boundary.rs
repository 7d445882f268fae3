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
//! The process allocates with jemalloc, as the controller does.

#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use abi_stable::std_types::{RResult, RStr};
use k8s_openapi::api::networking::v1::IngressLoadBalancerStatus;
use mcp_interface::api::networking::MultiClusterIngress;
use mcp_interface::sdk::MultiClusterIngressLoadBalancer;
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
        let status = in_process.ensure(mci).unwrap();
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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let samples = rt.block_on(async {
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
}
