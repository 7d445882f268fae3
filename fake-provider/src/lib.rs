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
mod key;
mod state;
mod store;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use mcp_interface::prelude::*;
use serde::{Serialize, de::DeserializeOwned};

use key::Method;
use state::Cloud;

pub use config::{Capability, Config, Fault, FaultAction};
pub use key::{BalancerKey, Kind};
pub use state::{Balancer, CallRecord, State};
pub use store::{MEMORY_HISTORY, StateStore, read_state_file, write_state_file};

/// The name `--cloud-provider` selects.
pub const NAME: &str = "fake";
/// The address `ensure` gives a new balancer.
pub const ENSURED_IP: &str = "1.2.3.4";
/// The address `update` gives a balancer.
pub const UPDATED_IP: &str = "1.2.3.5";

/// The fake provider.
pub struct FakeProvider {
    config: Config,
    store: StateStore,
    /// How many times each fault has fired, by fault index.
    fired: Mutex<HashMap<usize, u32>>,
    /// Calls running now, by object key (recorded as `overlapping` in the call log).
    running: Mutex<HashMap<BalancerKey, u32>>,
}

/// Counts a call as running until dropped.
struct Running<'a> {
    running: &'a Mutex<HashMap<BalancerKey, u32>>,
    key: &'a BalancerKey,
}

impl<'a> Running<'a> {
    /// Starts counting; returns the guard and how many calls about `key` were already running.
    fn start(running: &'a Mutex<HashMap<BalancerKey, u32>>, key: &'a BalancerKey) -> (Self, u32) {
        let mut map = running.lock().unwrap_or_else(|e| e.into_inner());
        let before = match map.get_mut(key) {
            Some(count) => {
                *count += 1;
                *count - 1
            }
            None => {
                map.insert(key.clone(), 1);
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
        key: &BalancerKey,
        method: Method,
        op: impl FnOnce(&mut dyn Cloud, &BalancerKey) -> Result<T, ProviderError>,
    ) -> Result<Reply<T>, ProviderError> {
        let object = key.object();
        let full_method = method.name(key.kind);
        let (_running, overlapping) = Running::start(&self.running, key);
        let result = match self.before_call(&full_method, &object) {
            Err(e) => Err(e),
            Ok(Some(FaultAction::Garbage)) => Ok(Reply::Garbage),
            Ok(action) => self
                .store
                .update(|cloud| {
                    let result = op(cloud, key);
                    let error = result.as_ref().err().map(|e| e.message());
                    cloud.record(method, key, error, overlapping)?;
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

/// A balancer's status, of either kind.
trait Status: Serialize + DeserializeOwned + Default {}

impl<S: Serialize + DeserializeOwned + Default> Status for S {}

/// A status of either kind with the one address `ip`: both are `{"ingress": [{"ip": ...}]}`.
fn with_ip<S: DeserializeOwned>(ip: &str) -> S {
    serde_json::from_value(serde_json::json!({"ingress": [{"ip": ip}]}))
        .expect("both kinds' statuses are a list of addresses")
}

/// The address of a status no cloud would return.
const GARBAGE_IP: &str = "999.1.2.3";

fn to_json(status: &impl Serialize) -> Result<String, ProviderError> {
    serde_json::to_string(status)
        .map_err(|e| ProviderError::permanent(format!("cannot encode a status: {e}")))
}

fn ensure(
    cloud: &mut dyn Cloud,
    key: &BalancerKey,
    status: &impl Serialize,
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
    key: &BalancerKey,
    status: &impl Serialize,
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
fn get<T: DeserializeOwned>(
    cloud: &mut dyn Cloud,
    key: &BalancerKey,
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

/// The four methods, for balancers of either kind.
impl FakeProvider {
    fn get_balancer<S: Status>(&self, key: BalancerKey) -> Result<Option<S>, ProviderError> {
        let r = self.call(&key, Method::Get, get);
        reply_get(r, || Some(with_ip("not-an-ip")))
    }

    fn ensure_balancer<S: Status>(&self, key: BalancerKey) -> Result<S, ProviderError> {
        let r = self.call(&key, Method::Ensure, |cloud, key| {
            let status = with_ip(ENSURED_IP);
            ensure(cloud, key, &status)?;
            Ok(status)
        });
        reply(r, || with_ip(GARBAGE_IP), |_| S::default())
    }

    fn update_balancer<S: Status>(&self, key: BalancerKey) -> Result<S, ProviderError> {
        let r = self.call(&key, Method::Update, |cloud, key| {
            let status = with_ip(UPDATED_IP);
            update(cloud, key, &status)?;
            Ok(status)
        });
        reply(r, || with_ip(GARBAGE_IP), |_| S::default())
    }

    fn delete_balancer(&self, key: BalancerKey) -> Result<(), ProviderError> {
        let r = self.call(&key, Method::EnsureDeleted, |cloud, key| cloud.delete(key));
        reply(r, || (), |()| ())
    }
}

/// Implements one kind's SDK trait with the methods above.
macro_rules! balancer {
    ($trait:ident for $kind:expr, $object:ty => $status:ty) => {
        impl $trait for FakeProvider {
            fn get(&self, object: &$object) -> Result<Option<$status>, ProviderError> {
                self.get_balancer(BalancerKey::of($kind, &object.metadata))
            }

            fn ensure(&self, object: &$object) -> Result<$status, ProviderError> {
                self.ensure_balancer(BalancerKey::of($kind, &object.metadata))
            }

            fn update(&self, object: &$object) -> Result<$status, ProviderError> {
                self.update_balancer(BalancerKey::of($kind, &object.metadata))
            }

            fn ensure_deleted(&self, object: &$object) -> Result<(), ProviderError> {
                self.delete_balancer(BalancerKey::of($kind, &object.metadata))
            }
        }
    };
}

balancer!(MultiClusterIngressLoadBalancer for Kind::Mci, MultiClusterIngress => IngressLoadBalancerStatus);
balancer!(MultiClusterServiceLoadBalancer for Kind::Mcs, MultiClusterService => LoadBalancerStatus);

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
