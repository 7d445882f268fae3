//! An example provider for the Karmada multicluster cloud provider, written against the async
//! SDK as a provider built on an async cloud SDK would be. Its "cloud" gives
//!
//! - every MultiClusterIngress a DNS name, `<name>.<namespace>.<domain>`, and
//! - every MultiClusterService of type LoadBalancer an address from a pool (IPv4 or IPv6).
//!
//! It shows everything a vendor writes: the [`AsyncProvider`] with the capabilities it offers,
//! the load balancers' four `async fn`s, errors with a kind, an async factory reading the
//! `--cloud-config` file, `tracing` events (they appear in the controller's log) and the one
//! `export_async_provider!` line.
//!
//! Both balancers use interface 1.2's backend view ([`Backends`]), in the two common designs:
//! the ingress balancer sends traffic straight to the endpoints Karmada collected from the
//! member clusters ("one balancer over all endpoints"); the service balancer is a global
//! balancer in front of each member cluster's own load balancer ("a global balancer over
//! per-cluster balancers"). Blocked and not-ready clusters and endpoints that are not ready or
//! are terminating get no traffic. No `unsafe`, no abi_stable, no runtime set-up: the SDK starts a
//! tokio runtime for the provider and cancels calls the controller stopped waiting for.
//!
//! Cloud-config (JSON, optional; these are the defaults):
//! `{"domain": "lb.example.com", "addressPool": "198.51.100.0/24", "apiLatencyMs": 0}`.
//! `apiLatencyMs` makes every call to the "cloud API" take that long (to try timeouts).

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use mcp_interface::prelude::*;
use serde::Deserialize;

/// The `--cloud-config` file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CloudConfig {
    /// The DNS zone the ingress balancers' names are made in.
    #[serde(default = "default_domain")]
    domain: String,
    /// The CIDR block service balancers get their addresses from.
    #[serde(default = "default_pool")]
    address_pool: String,
    /// How long each call to the cloud API takes.
    #[serde(default)]
    api_latency_ms: u64,
}

fn default_domain() -> String {
    "lb.example.com".to_owned()
}

fn default_pool() -> String {
    "198.51.100.0/24".to_owned()
}

/// An address pool: `size` addresses from `base` on (the first is left out, as a network's).
struct AddressPool {
    base: IpAddr,
    size: u128,
}

impl AddressPool {
    fn parse(cidr: &str) -> Result<Self, String> {
        let (address, prefix) = cidr.split_once('/').ok_or("not ADDRESS/PREFIX")?;
        let base: IpAddr = address.parse().map_err(|e| format!("{address:?}: {e}"))?;
        let bits = if base.is_ipv4() { 32 } else { 128 };
        let prefix: u32 = prefix
            .parse()
            .map_err(|e| format!("prefix {prefix:?}: {e}"))?;
        if prefix >= bits {
            return Err(format!("a /{prefix} has no room for balancers"));
        }
        let size = 1u128.checked_shl(bits - prefix).unwrap_or(u128::MAX);
        Ok(AddressPool { base, size })
    }

    /// The `n`-th address of the pool (`n >= 1`).
    fn address(&self, n: u128) -> Option<IpAddr> {
        if n == 0 || n >= self.size {
            return None;
        }
        Some(match self.base {
            IpAddr::V4(v4) => IpAddr::from(
                u32::from(v4)
                    .checked_add(u32::try_from(n).ok()?)?
                    .to_be_bytes(),
            ),
            IpAddr::V6(v6) => IpAddr::from(u128::from(v6).checked_add(n)?.to_be_bytes()),
        })
    }
}

/// What the "cloud" holds: balancers by `kind/namespace/name`, with the address index of the
/// service balancers, and the targets each one sends traffic to. A real provider asks its
/// cloud's API instead.
#[derive(Default)]
struct Cloud {
    ingresses: BTreeMap<String, (IngressLoadBalancerStatus, Vec<String>)>,
    services: BTreeMap<String, (u128, LoadBalancerStatus, Vec<String>)>,
}

/// Whether a member cluster gets traffic: Karmada reports it Ready and no Remedy blocks it.
fn serves(cluster: &BackendCluster) -> bool {
    cluster.ready && !cluster.traffic_blocked
}

/// The ingress balancer's targets: `address:port` of every endpoint that is ready and not
/// terminating, in the clusters that get traffic.
fn endpoint_targets(backends: &Backends) -> Vec<String> {
    let mut targets = Vec::new();
    for service in &backends.services {
        for cluster in service.clusters.iter().filter(|c| serves(c)) {
            for endpoint in &cluster.endpoints {
                if !endpoint.ready || endpoint.terminating {
                    continue;
                }
                for address in &endpoint.addresses {
                    for port in &endpoint.ports {
                        targets.push(format!("{address}:{}", port.port));
                    }
                }
            }
        }
    }
    targets
}

/// The service balancer's targets: each member cluster's own balancer address, in the clusters
/// that get traffic.
fn cluster_balancer_targets(backends: &Backends) -> Vec<String> {
    let mut targets = Vec::new();
    for service in &backends.services {
        for cluster in service.clusters.iter().filter(|c| serves(c)) {
            for address in &cluster.load_balancer {
                if let Some(target) = address.ip.as_ref().or(address.hostname.as_ref()) {
                    targets.push(format!("{}={target}", cluster.name));
                }
            }
        }
    }
    targets
}

/// Says when a controller older than interface 1.2 gave no view: the balancer then has no
/// targets until an upgraded controller updates it.
fn note_unresolved(backends: &Backends, key: &str) {
    if !backends.resolved {
        tracing::warn!(balancer = %key, "the controller gives no backend view (older than interface 1.2): the balancer gets no targets");
    }
}

/// The provider instance the controller gets from [`new_provider`].
pub struct ExampleCloud {
    domain: String,
    pool: AddressPool,
    api_latency: Duration,
    cloud: Mutex<Cloud>,
}

fn key(meta: &ObjectMeta) -> Result<String, ProviderError> {
    match meta.name.as_deref() {
        // Permanent: retrying the same object cannot help.
        None | Some("") => Err(ProviderError::permanent("the object has no name")),
        Some(name) => Ok(format!(
            "{}/{name}",
            meta.namespace.as_deref().unwrap_or("default")
        )),
    }
}

impl ExampleCloud {
    /// One round trip to the cloud API (here: a sleep), then `f` on the cloud's state.
    async fn api<T>(&self, f: impl FnOnce(&mut Cloud) -> T) -> T {
        if !self.api_latency.is_zero() {
            tokio::time::sleep(self.api_latency).await;
        }
        // A panic while holding the lock cannot leave the state half-changed.
        f(&mut self.cloud.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn ingress_status(&self, mci: &MultiClusterIngress) -> IngressLoadBalancerStatus {
        let name = mci.metadata.name.as_deref().unwrap_or_default();
        let namespace = mci.metadata.namespace.as_deref().unwrap_or("default");
        IngressLoadBalancerStatus {
            ingress: Some(vec![IngressLoadBalancerIngress {
                hostname: Some(format!("{name}.{namespace}.{}", self.domain)),
                ..Default::default()
            }]),
        }
    }

    fn service_status(address: IpAddr) -> LoadBalancerStatus {
        LoadBalancerStatus {
            ingress: Some(vec![LoadBalancerIngress {
                ip: Some(address.to_string()),
                ip_mode: Some("VIP".to_owned()),
                ..Default::default()
            }]),
        }
    }
}

impl AsyncProvider for ExampleCloud {
    // Interface 1.2's balancers, which get the backend view with every call.
    fn multicluster_ingress_balancer(&self) -> Option<&impl AsyncMultiClusterIngressBalancer> {
        Some(self)
    }

    fn multicluster_service_balancer(&self) -> Option<&impl AsyncMultiClusterServiceBalancer> {
        Some(self)
    }

    // Also loads into a controller older than 1.2 (balancers without targets there).
    fn backends_required(&self) -> bool {
        false
    }
}

impl AsyncMultiClusterIngressBalancer for ExampleCloud {
    async fn get(
        &self,
        mci: &MultiClusterIngress,
        _backends: &Backends,
    ) -> Result<Option<IngressLoadBalancerStatus>, ProviderError> {
        let key = key(&mci.metadata)?;
        let found = self.api(|cloud| cloud.ingresses.get(&key).cloned()).await;
        Ok(found.map(|(status, _)| status))
    }

    async fn ensure(
        &self,
        mci: &MultiClusterIngress,
        backends: &Backends,
    ) -> Result<Progress<IngressLoadBalancerStatus>, ProviderError> {
        let key = key(&mci.metadata)?;
        note_unresolved(backends, &key);
        let status = self.ingress_status(mci);
        let targets = endpoint_targets(backends);
        let count = targets.len();
        let stored = (status.clone(), targets);
        self.api(|cloud| cloud.ingresses.insert(key.clone(), stored))
            .await;
        tracing::info!(balancer = %key, targets = count, "created an ingress load balancer");
        Ok(status.into())
    }

    async fn update(
        &self,
        mci: &MultiClusterIngress,
        backends: &Backends,
    ) -> Result<Progress<IngressLoadBalancerStatus>, ProviderError> {
        let key = key(&mci.metadata)?;
        note_unresolved(backends, &key);
        let status = self.ingress_status(mci);
        let targets = endpoint_targets(backends);
        let count = targets.len();
        let stored = (status.clone(), targets);
        let found = self
            .api(|cloud| cloud.ingresses.get_mut(&key).map(|s| *s = stored))
            .await;
        found.ok_or_else(|| ProviderError::not_found(format!("no load balancer for {key}")))?;
        tracing::info!(balancer = %key, targets = count, "updated an ingress load balancer");
        Ok(status.into())
    }

    async fn ensure_deleted(
        &self,
        mci: &MultiClusterIngress,
        _backends: &Backends,
    ) -> Result<(), ProviderError> {
        let key = key(&mci.metadata)?;
        if self
            .api(|cloud| cloud.ingresses.remove(&key))
            .await
            .is_some()
        {
            tracing::info!(balancer = %key, "deleted an ingress load balancer");
        }
        Ok(())
    }
}

impl AsyncMultiClusterServiceBalancer for ExampleCloud {
    async fn get(
        &self,
        mcs: &MultiClusterService,
        _backends: &Backends,
    ) -> Result<Option<LoadBalancerStatus>, ProviderError> {
        let key = key(&mcs.metadata)?;
        let found = self.api(|cloud| cloud.services.get(&key).cloned()).await;
        Ok(found.map(|(_, status, _)| status))
    }

    async fn ensure(
        &self,
        mcs: &MultiClusterService,
        backends: &Backends,
    ) -> Result<Progress<LoadBalancerStatus>, ProviderError> {
        let key = key(&mcs.metadata)?;
        note_unresolved(backends, &key);
        let targets = cluster_balancer_targets(backends);
        let count = targets.len();
        let allocated = self
            .api(|cloud| {
                if let Some((_, status, _)) = cloud.services.get(&key) {
                    return Ok(status.clone());
                }
                // The lowest free address of the pool.
                let mut used: Vec<u128> = cloud.services.values().map(|(n, ..)| *n).collect();
                used.sort_unstable();
                let n = used
                    .iter()
                    .enumerate()
                    .find(|(i, n)| **n != *i as u128 + 1)
                    .map_or(used.len() as u128 + 1, |(i, _)| i as u128 + 1);
                let address = self.pool.address(n).ok_or_else(|| {
                    // A quota: retrying the same object will not help until one is freed.
                    ProviderError::permanent("the address pool is exhausted")
                })?;
                let status = Self::service_status(address);
                cloud
                    .services
                    .insert(key.clone(), (n, status.clone(), targets));
                Ok(status)
            })
            .await?;
        tracing::info!(balancer = %key, targets = count, "created a service load balancer");
        Ok(allocated.into())
    }

    async fn update(
        &self,
        mcs: &MultiClusterService,
        backends: &Backends,
    ) -> Result<Progress<LoadBalancerStatus>, ProviderError> {
        // The member balancers behind it are reprogrammed; the address stays.
        let key = key(&mcs.metadata)?;
        note_unresolved(backends, &key);
        let targets = cluster_balancer_targets(backends);
        let count = targets.len();
        let found = self
            .api(|cloud| {
                cloud.services.get_mut(&key).map(|(_, status, stored)| {
                    *stored = targets;
                    status.clone()
                })
            })
            .await;
        let status =
            found.ok_or_else(|| ProviderError::not_found(format!("no load balancer for {key}")))?;
        tracing::info!(balancer = %key, targets = count, "updated a service load balancer");
        Ok(status.into())
    }

    async fn ensure_deleted(
        &self,
        mcs: &MultiClusterService,
        _backends: &Backends,
    ) -> Result<(), ProviderError> {
        let key = key(&mcs.metadata)?;
        if self
            .api(|cloud| cloud.services.remove(&key))
            .await
            .is_some()
        {
            tracing::info!(balancer = %key, "deleted a service load balancer");
        }
        Ok(())
    }
}

/// The factory: receives the `--cloud-config` file's contents, if the flag is given. It runs on
/// the provider's runtime, so it may `.await` (e.g. to fetch credentials).
async fn new_provider(cloud_config: Option<&[u8]>) -> Result<ExampleCloud, ProviderError> {
    let config: CloudConfig = serde_json::from_slice(cloud_config.unwrap_or(b"{}")).map_err(|e| {
        ProviderError::permanent(format!(
            "invalid cloud-config (want {{\"domain\": \"...\", \"addressPool\": \"CIDR\", \"apiLatencyMs\": N}}): {e}"
        ))
    })?;
    let pool = AddressPool::parse(&config.address_pool)
        .map_err(|e| ProviderError::permanent(format!("invalid cloud-config addressPool: {e}")))?;
    tracing::info!(domain = %config.domain, pool = %config.address_pool, "example provider ready");
    Ok(ExampleCloud {
        domain: config.domain,
        pool,
        api_latency: Duration::from_millis(config.api_latency_ms),
        cloud: Mutex::new(Cloud::default()),
    })
}

mcp_interface::export_async_provider!(name: "example", factory: new_provider);
