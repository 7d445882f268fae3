//! The scale bench's objects, and a watch that tells when every one has its load balancer.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use kube::Client;
use kube::api::{Api, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use mcp_interface::api::networking::{MultiClusterIngress, MultiClusterService};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

/// The namespace every object goes to.
pub const NAMESPACE: &str = "bench";

/// How many creations are in flight at once.
const IN_FLIGHT: usize = 32;

/// Object `i`: Service `web-i` (port 80), MCI `web-i` of class `fake` with one rule to it, MCS
/// `web-i` of type LoadBalancer (named like the Service, as Karmada expects).
fn service(i: usize) -> Service {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": format!("web-{i}")},
        "spec": {"ports": [{"port": 80, "targetPort": 8080}], "selector": {"app": format!("web-{i}")}}
    }))
    .unwrap()
}

fn mci(i: usize) -> MultiClusterIngress {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": format!("web-{i}")},
        "spec": {"ingressClassName": "fake", "rules": [{"host": format!("web-{i}.example.com"), "http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": format!("web-{i}"), "port": {"number": 80}}}}
        ]}}]}
    }))
    .unwrap()
}

fn mcs(i: usize) -> MultiClusterService {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": format!("web-{i}")},
        "spec": {"types": ["LoadBalancer"], "ports": [{"port": 80}]}
    }))
    .unwrap()
}

/// Creates objects `0..n` (with their Services when `services`), `IN_FLIGHT` at a time; returns
/// how long it took.
pub async fn create(client: &Client, n: usize, services: bool) -> Duration {
    let svcs: Api<Service> = Api::namespaced(client.clone(), NAMESPACE);
    let mcis: Api<MultiClusterIngress> = Api::namespaced(client.clone(), NAMESPACE);
    let mcss: Api<MultiClusterService> = Api::namespaced(client.clone(), NAMESPACE);
    let started = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let (svcs, mcis, mcss) = (svcs.clone(), mcis.clone(), mcss.clone());
            async move {
                let pp = PostParams::default();
                if services {
                    svcs.create(&pp, &service(i)).await.unwrap();
                }
                mcis.create(&pp, &mci(i)).await.unwrap();
                mcss.create(&pp, &mcs(i)).await.unwrap();
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<_>>()
        .await;
    started.elapsed()
}

/// Whether an object's `status.loadBalancer` has an address.
trait HasAddress {
    fn has_address(&self) -> bool;
}

/// Both statuses keep their addresses in `status.loadBalancer.ingress`.
macro_rules! has_address {
    ($($kind:ty),*) => {$(
        impl HasAddress for $kind {
            fn has_address(&self) -> bool {
                self.status
                    .as_ref()
                    .and_then(|s| s.load_balancer.as_ref())
                    .and_then(|l| l.ingress.as_ref())
                    .is_some_and(|i| !i.is_empty())
            }
        }
    )*};
}

has_address!(MultiClusterIngress, MultiClusterService);

/// Keeps `count` equal to the number of `K`s in the bench namespace with an address.
async fn count_addressed<K>(client: Client, count: watch::Sender<usize>)
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
    K: HasAddress + Clone + DeserializeOwned + std::fmt::Debug,
    K: Send + 'static,
{
    let api: Api<K> = Api::namespaced(client, NAMESPACE);
    let mut done = HashSet::new();
    let mut events = std::pin::pin!(watcher(api, watcher::Config::default()).default_backoff());
    while let Some(event) = events.next().await {
        match event {
            Ok(watcher::Event::Apply(obj) | watcher::Event::InitApply(obj)) => {
                let name = obj.meta().name.clone().unwrap_or_default();
                if obj.has_address() {
                    done.insert(name);
                } else {
                    done.remove(&name);
                }
            }
            Ok(watcher::Event::Delete(obj)) => {
                done.remove(obj.meta().name.as_deref().unwrap_or_default());
            }
            Ok(watcher::Event::Init | watcher::Event::InitDone) | Err(_) => continue,
        }
        count.send_replace(done.len());
    }
}

/// Watches MCIs and MCSs; `wait` returns once `n` of each have an address.
pub struct Convergence {
    mcis: watch::Receiver<usize>,
    mcss: watch::Receiver<usize>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Convergence {
    pub fn watch(client: &Client) -> Convergence {
        let (mci_tx, mcis) = watch::channel(0);
        let (mcs_tx, mcss) = watch::channel(0);
        let tasks = vec![
            tokio::spawn(count_addressed::<MultiClusterIngress>(
                client.clone(),
                mci_tx,
            )),
            tokio::spawn(count_addressed::<MultiClusterService>(
                client.clone(),
                mcs_tx,
            )),
        ];
        Convergence { mcis, mcss, tasks }
    }

    /// Waits until `n` MCIs and `n` MCSs have an address; panics after `timeout`.
    pub async fn wait(&mut self, n: usize, timeout: Duration) {
        let both = async {
            self.mcis.wait_for(|c| *c >= n).await.unwrap();
            self.mcss.wait_for(|c| *c >= n).await.unwrap();
        };
        if tokio::time::timeout(timeout, both).await.is_err() {
            panic!(
                "N={n}: only {} MCIs and {} MCSs have an address after {timeout:?}",
                *self.mcis.borrow(),
                *self.mcss.borrow()
            );
        }
    }
}

impl Drop for Convergence {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
