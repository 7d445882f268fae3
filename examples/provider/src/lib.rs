//! An example provider for the Karmada multicluster cloud provider: its "cloud" gives every
//! MultiClusterIngress a DNS name, `<name>.<namespace>.<domain>`, instead of an address.
//!
//! It shows everything a vendor writes: the [`Provider`] with the capabilities it offers (here
//! only MultiClusterIngress load balancers, so the controller must run with
//! `--controllers=*,-multiclusterservice`), the load balancer's four methods, errors with a kind,
//! a factory reading the `--cloud-config` file, `tracing` events (they appear in the controller's
//! log) and the one `export_provider!` line. No `unsafe`, no abi_stable.
//!
//! Cloud-config (JSON, optional): `{"domain": "lb.example.com"}`.

#![forbid(unsafe_code)]

use std::collections::BTreeSet;
use std::sync::Mutex;

use mcp_interface::prelude::*;
use serde::Deserialize;

/// The `--cloud-config` file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CloudConfig {
    /// The DNS zone the balancers' names are made in.
    domain: String,
}

/// The provider instance the controller gets from [`new_provider`].
pub struct ExampleCloud {
    domain: String,
    /// The balancers this "cloud" holds, by `namespace/name`. A real provider asks its cloud.
    balancers: Mutex<BTreeSet<String>>,
}

impl ExampleCloud {
    fn key(mci: &MultiClusterIngress) -> Result<String, ProviderError> {
        let name = mci.metadata.name.as_deref().unwrap_or_default();
        if name.is_empty() {
            // Permanent: retrying the same object cannot help.
            return Err(ProviderError::permanent(
                "the MultiClusterIngress has no name",
            ));
        }
        let namespace = mci.metadata.namespace.as_deref().unwrap_or("default");
        Ok(format!("{namespace}/{name}"))
    }

    fn status(&self, mci: &MultiClusterIngress) -> IngressLoadBalancerStatus {
        let name = mci.metadata.name.as_deref().unwrap_or_default();
        let namespace = mci.metadata.namespace.as_deref().unwrap_or("default");
        IngressLoadBalancerStatus {
            ingress: Some(vec![IngressLoadBalancerIngress {
                hostname: Some(format!("{name}.{namespace}.{}", self.domain)),
                ..Default::default()
            }]),
        }
    }

    fn balancers(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        // A panic while holding the lock cannot leave the set half-changed.
        self.balancers.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Provider for ExampleCloud {
    fn multicluster_ingress(&self) -> Option<&dyn MultiClusterIngressLoadBalancer> {
        Some(self)
    }
    // multicluster_service: not offered (the default `None`); the controller reports it as
    // "not supported" and refuses to run the multiclusterservice controller with this provider.
}

impl MultiClusterIngressLoadBalancer for ExampleCloud {
    fn get(
        &self,
        mci: &MultiClusterIngress,
    ) -> Result<Option<IngressLoadBalancerStatus>, ProviderError> {
        let key = Self::key(mci)?;
        Ok(self.balancers().contains(&key).then(|| self.status(mci)))
    }

    fn ensure(
        &self,
        mci: &MultiClusterIngress,
    ) -> Result<IngressLoadBalancerStatus, ProviderError> {
        let key = Self::key(mci)?;
        self.balancers().insert(key.clone());
        tracing::info!(balancer = %key, "created a load balancer");
        Ok(self.status(mci))
    }

    fn update(
        &self,
        mci: &MultiClusterIngress,
    ) -> Result<IngressLoadBalancerStatus, ProviderError> {
        let key = Self::key(mci)?;
        if !self.balancers().contains(&key) {
            return Err(ProviderError::not_found(format!(
                "no load balancer for {key}"
            )));
        }
        tracing::debug!(balancer = %key, "updated a load balancer");
        Ok(self.status(mci))
    }

    fn ensure_deleted(&self, mci: &MultiClusterIngress) -> Result<(), ProviderError> {
        let key = Self::key(mci)?;
        if self.balancers().remove(&key) {
            tracing::info!(balancer = %key, "deleted a load balancer");
        }
        Ok(())
    }
}

/// The factory: receives the `--cloud-config` file's contents, if the flag is given.
fn new_provider(cloud_config: Option<&[u8]>) -> Result<ExampleCloud, ProviderError> {
    let domain = match cloud_config {
        None => "lb.example.com".to_owned(),
        Some(bytes) => {
            let config: CloudConfig = serde_json::from_slice(bytes).map_err(|e| {
                ProviderError::permanent(format!(
                    "invalid cloud-config (want {{\"domain\": \"...\"}}): {e}"
                ))
            })?;
            config.domain
        }
    };
    tracing::info!(%domain, "example provider ready");
    Ok(ExampleCloud {
        domain,
        balancers: Mutex::new(BTreeSet::new()),
    })
}

mcp_interface::export_provider!(name: "example", factory: new_provider);
