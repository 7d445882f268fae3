//! The fake multicluster cloud provider, built as `libmcp_provider_fake.so`.
//!
//! Like the Go original's fake: balancers are kept by kind/namespace/name; `ensure` fails when
//! one exists and otherwise returns ingress IP `1.2.3.4`; `update` fails when none exists and
//! returns `1.2.3.5`; `get` reports existence; `ensure_deleted` removes; every call is recorded.
//!
//! An optional cloud-config (YAML or JSON, see [`Config`]) lets tests add latency, make calls
//! fail, panic, hang or return garbage, and keep the balancers in a state file (an SQLite
//! database) instead of memory: like a real cloud they then outlive a controller restart and are
//! shared by several controller processes, so leaked, lost or doubly created balancers become
//! visible. In memory, the call log and the creation and deletion history keep the last
//! [`MEMORY_HISTORY`] entries.

#![forbid(unsafe_code)]

mod config;
mod database;
mod state;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::api::core::v1::{LoadBalancerIngress, LoadBalancerStatus};
use k8s_openapi::api::networking::v1::{IngressLoadBalancerIngress, IngressLoadBalancerStatus};
use mcp_interface::prelude::*;

pub use config::{Capability, Config, Fault, FaultAction};
pub use state::{
    Balancer, CallRecord, Cloud, MEMORY_HISTORY, State, StateStore, read_state_file,
    write_state_file,
};

/// The name `--cloud-provider` selects.
pub const NAME: &str = "fake";
/// The address `ensure` gives a new balancer.
pub const ENSURED_IP: &str = "1.2.3.4";
/// The address `update` gives a balancer.
pub const UPDATED_IP: &str = "1.2.3.5";

/// Which kind of object a balancer serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Mci,
    Mcs,
}

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::Mci => "mci",
            Kind::Mcs => "mcs",
        }
    }

    /// The method's name in the call log and in faults: `mci_get`, ..., `mcs_ensure_deleted`.
    fn method(self, method: Method) -> &'static str {
        match (self, method) {
            (Kind::Mci, Method::Get) => "mci_get",
            (Kind::Mci, Method::Ensure) => "mci_ensure",
            (Kind::Mci, Method::Update) => "mci_update",
            (Kind::Mci, Method::EnsureDeleted) => "mci_ensure_deleted",
            (Kind::Mcs, Method::Get) => "mcs_get",
            (Kind::Mcs, Method::Ensure) => "mcs_ensure",
            (Kind::Mcs, Method::Update) => "mcs_update",
            (Kind::Mcs, Method::EnsureDeleted) => "mcs_ensure_deleted",
        }
    }
}

/// A load balancer method.
#[derive(Debug, Clone, Copy)]
enum Method {
    Get,
    Ensure,
    Update,
    EnsureDeleted,
}

/// The fake provider.
pub struct FakeProvider {
    config: Config,
    store: StateStore,
    /// How many times each fault has fired, by fault index.
    fired: Mutex<HashMap<usize, u32>>,
    /// Calls running now, by object key (recorded as `overlapping` in the call log).
    running: Mutex<HashMap<String, u32>>,
}

/// Counts a call as running until dropped.
struct Running<'a> {
    running: &'a Mutex<HashMap<String, u32>>,
    key: &'a str,
}

impl<'a> Running<'a> {
    /// Starts counting; returns the guard and how many calls about `key` were already running.
    fn start(running: &'a Mutex<HashMap<String, u32>>, key: &'a str) -> (Self, u32) {
        let mut map = running.lock().unwrap_or_else(|e| e.into_inner());
        let before = match map.get_mut(key) {
            Some(count) => {
                *count += 1;
                *count - 1
            }
            None => {
                map.insert(key.to_owned(), 1);
                0
            }
        };
        (Running { running, key }, before)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let mut map = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = map.get_mut(self.key) {
            *count -= 1;
            if *count == 0 {
                map.remove(self.key);
            }
        }
    }
}

impl FakeProvider {
    /// The factory: `cloud_config` is the `--cloud-config` file's contents, if any.
    pub fn from_cloud_config(cloud_config: Option<&[u8]>) -> Result<Self, ProviderError> {
        let config = match cloud_config {
            None => Config::default(),
            Some(bytes) => Config::parse(bytes)?,
        };
        if let Some(message) = &config.fail_factory {
            return Err(ProviderError::permanent(message.clone()));
        }
        let store = match &config.state_file {
            Some(path) => StateStore::file(path)?,
            None => StateStore::memory(),
        };
        tracing::info!(
            state = %config.state_file.as_ref().map_or("memory".to_owned(), |p| p.display().to_string()),
            faults = config.faults.len(),
            "fake provider ready"
        );
        Ok(FakeProvider {
            config,
            store,
            fired: Mutex::new(HashMap::new()),
            running: Mutex::new(HashMap::new()),
        })
    }

    /// The balancers and the call log as they are now.
    pub fn state(&self) -> Result<State, ProviderError> {
        self.store.read()
    }

    fn key(
        kind: Kind,
        meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    ) -> String {
        format!(
            "{}/{}/{}",
            kind.prefix(),
            meta.namespace.as_deref().unwrap_or(""),
            meta.name.as_deref().unwrap_or("")
        )
    }

    /// Applies latency and any matching fault: what the call is to return instead of its own
    /// result, if anything.
    fn before_call(
        &self,
        method: &str,
        object: &str,
    ) -> Result<Option<FaultAction>, ProviderError> {
        if let Some(ms) = self.config.latency_ms {
            std::thread::sleep(Duration::from_millis(ms));
        }
        for (index, fault) in self.config.faults.iter().enumerate() {
            if !fault.matches(method, object) {
                continue;
            }
            {
                let mut fired = self.fired.lock().unwrap_or_else(|e| e.into_inner());
                let count = fired.entry(index).or_default();
                if fault.times.is_some_and(|times| *count >= times) {
                    continue;
                }
                *count += 1;
            }
            tracing::debug!(method, object, action = ?fault.action, "injecting fault");
            match fault.action {
                FaultAction::Fail => {
                    let message = fault
                        .message
                        .clone()
                        .unwrap_or_else(|| format!("injected failure of {method} for {object}"));
                    return Err(ProviderError::new(fault.kind.into(), message));
                }
                FaultAction::Panic => panic!("injected panic in {method} for {object}"),
                FaultAction::Hang => {
                    std::thread::sleep(Duration::from_millis(fault.hang_ms.unwrap_or(3_600_000)));
                }
                FaultAction::Garbage | FaultAction::NoAddress | FaultAction::Absent => {
                    return Ok(Some(fault.action));
                }
            }
        }
        Ok(None)
    }

    /// Runs one recorded call, or what a fault puts in its place.
    fn call<T>(
        &self,
        kind: Kind,
        method: Method,
        meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
        op: impl FnOnce(&mut dyn Cloud, &str) -> Result<T, ProviderError>,
    ) -> Result<Reply<T>, ProviderError> {
        let key = Self::key(kind, meta);
        // The key without its kind: `namespace/name`.
        let object = &key[kind.prefix().len() + 1..];
        let full_method = kind.method(method);
        let (_running, overlapping) = Running::start(&self.running, &key);
        let result = match self.before_call(full_method, object) {
            Err(e) => Err(e),
            Ok(Some(FaultAction::Garbage)) => Ok(Reply::Garbage),
            Ok(action) => self
                .store
                .update(|cloud| {
                    let result = op(cloud, &key);
                    cloud.record(
                        full_method,
                        object,
                        result.as_ref().err().map(|e| e.message()),
                        overlapping,
                    )?;
                    result
                })
                .map(|value| match action {
                    Some(FaultAction::NoAddress) => Reply::NoAddress(value),
                    Some(FaultAction::Absent) => Reply::Absent(value),
                    _ => Reply::Normal(value),
                }),
        };
        match &result {
            // The controller logs what each call changed ("created the load balancer"), so a
            // line per call here would only repeat it.
            Ok(_) => tracing::debug!(method = %full_method, object = %object, "fake provider call"),
            Err(e) => {
                tracing::warn!(method = %full_method, object = %object, error = %e, "fake provider call failed")
            }
        }
        result
    }
}

fn ingress_status(ip: &str) -> IngressLoadBalancerStatus {
    IngressLoadBalancerStatus {
        ingress: Some(vec![IngressLoadBalancerIngress {
            ip: Some(ip.to_owned()),
            ..Default::default()
        }]),
    }
}

fn service_status(ip: &str) -> LoadBalancerStatus {
    LoadBalancerStatus {
        ingress: Some(vec![LoadBalancerIngress {
            ip: Some(ip.to_owned()),
            ..Default::default()
        }]),
    }
}

fn to_json(status: &impl serde::Serialize) -> Result<String, ProviderError> {
    serde_json::to_string(status)
        .map_err(|e| ProviderError::permanent(format!("cannot encode a status: {e}")))
}

fn ensure(
    cloud: &mut dyn Cloud,
    key: &str,
    status: &impl serde::Serialize,
) -> Result<(), ProviderError> {
    if cloud.status(key)?.is_some() {
        return Err(ProviderError::permanent(format!(
            "load balancer {key} already exists"
        )));
    }
    cloud.create(key, &to_json(status)?)
}

fn update(
    cloud: &mut dyn Cloud,
    key: &str,
    status: &impl serde::Serialize,
) -> Result<(), ProviderError> {
    if cloud.set_status(key, &to_json(status)?)? {
        Ok(())
    } else {
        Err(ProviderError::not_found(format!(
            "load balancer {key} does not exist"
        )))
    }
}

/// The status of the balancer `key`, if it exists.
fn get<T: serde::de::DeserializeOwned>(
    cloud: &mut dyn Cloud,
    key: &str,
) -> Result<Option<T>, ProviderError> {
    cloud
        .status(key)?
        .map(|status| {
            serde_json::from_str(&status)
                .map_err(|e| ProviderError::permanent(format!("corrupt fake state: {e}")))
        })
        .transpose()
}

/// What a call returns: its own result, or what a fault puts in its place.
enum Reply<T> {
    Normal(T),
    /// A status no cloud would return: the host must refuse it.
    Garbage,
    /// The call did its work, but the balancer has no address (yet).
    NoAddress(T),
    /// The call did its work; a `get` reports no balancer ([`reply_get`]).
    Absent(T),
}

/// The call's result, with `garbage` and `no_address` making the faults' replacements.
fn reply<T>(
    result: Result<Reply<T>, ProviderError>,
    garbage: impl FnOnce() -> T,
    no_address: impl FnOnce(T) -> T,
) -> Result<T, ProviderError> {
    result.map(|r| match r {
        Reply::Normal(value) | Reply::Absent(value) => value,
        Reply::Garbage => garbage(),
        Reply::NoAddress(value) => no_address(value),
    })
}

/// A `get`'s result: as [`reply`], and `absent` reports no balancer.
fn reply_get<T: Default>(
    result: Result<Reply<Option<T>>, ProviderError>,
    garbage: impl FnOnce() -> Option<T>,
) -> Result<Option<T>, ProviderError> {
    match result {
        Ok(Reply::Absent(_)) => Ok(None),
        other => reply(other, garbage, |found| found.map(|_| T::default())),
    }
}

impl MultiClusterIngressLoadBalancer for FakeProvider {
    fn get(
        &self,
        mci: &MultiClusterIngress,
    ) -> Result<Option<IngressLoadBalancerStatus>, ProviderError> {
        let r = self.call(Kind::Mci, Method::Get, &mci.metadata, get);
        reply_get(r, || Some(ingress_status("not-an-ip")))
    }

    fn ensure(
        &self,
        mci: &MultiClusterIngress,
    ) -> Result<IngressLoadBalancerStatus, ProviderError> {
        let r = self.call(Kind::Mci, Method::Ensure, &mci.metadata, |cloud, key| {
            let status = ingress_status(ENSURED_IP);
            ensure(cloud, key, &status)?;
            Ok(status)
        });
        reply(r, || ingress_status("999.1.2.3"), |_| Default::default())
    }

    fn update(
        &self,
        mci: &MultiClusterIngress,
    ) -> Result<IngressLoadBalancerStatus, ProviderError> {
        let r = self.call(Kind::Mci, Method::Update, &mci.metadata, |cloud, key| {
            let status = ingress_status(UPDATED_IP);
            update(cloud, key, &status)?;
            Ok(status)
        });
        reply(r, || ingress_status("999.1.2.3"), |_| Default::default())
    }

    fn ensure_deleted(&self, mci: &MultiClusterIngress) -> Result<(), ProviderError> {
        let r = self.call(
            Kind::Mci,
            Method::EnsureDeleted,
            &mci.metadata,
            |cloud, key| cloud.delete(key),
        );
        reply(r, || (), |()| ())
    }
}

impl MultiClusterServiceLoadBalancer for FakeProvider {
    fn get(&self, mcs: &MultiClusterService) -> Result<Option<LoadBalancerStatus>, ProviderError> {
        let r = self.call(Kind::Mcs, Method::Get, &mcs.metadata, get);
        reply_get(r, || Some(service_status("not-an-ip")))
    }

    fn ensure(&self, mcs: &MultiClusterService) -> Result<LoadBalancerStatus, ProviderError> {
        let r = self.call(Kind::Mcs, Method::Ensure, &mcs.metadata, |cloud, key| {
            let status = service_status(ENSURED_IP);
            ensure(cloud, key, &status)?;
            Ok(status)
        });
        reply(r, || service_status("999.1.2.3"), |_| Default::default())
    }

    fn update(&self, mcs: &MultiClusterService) -> Result<LoadBalancerStatus, ProviderError> {
        let r = self.call(Kind::Mcs, Method::Update, &mcs.metadata, |cloud, key| {
            let status = service_status(UPDATED_IP);
            update(cloud, key, &status)?;
            Ok(status)
        });
        reply(r, || service_status("999.1.2.3"), |_| Default::default())
    }

    fn ensure_deleted(&self, mcs: &MultiClusterService) -> Result<(), ProviderError> {
        let r = self.call(
            Kind::Mcs,
            Method::EnsureDeleted,
            &mcs.metadata,
            |cloud, key| cloud.delete(key),
        );
        reply(r, || (), |()| ())
    }
}

impl Provider for FakeProvider {
    fn multicluster_ingress(&self) -> Option<&dyn MultiClusterIngressLoadBalancer> {
        self.config
            .offers(Capability::MultiClusterIngress)
            .then_some(self as &dyn MultiClusterIngressLoadBalancer)
    }

    fn multicluster_service(&self) -> Option<&dyn MultiClusterServiceLoadBalancer> {
        self.config
            .offers(Capability::MultiClusterService)
            .then_some(self as &dyn MultiClusterServiceLoadBalancer)
    }
}

mcp_interface::export_provider!(name: NAME, factory: FakeProvider::from_cloud_config);
