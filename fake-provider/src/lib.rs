//! The fake multicluster cloud provider, built as `libmcp_provider_fake.so`.
//!
//! Like the Go original's fake: balancers are kept by kind/namespace/name; `ensure` fails when
//! one exists and otherwise returns ingress IP `1.2.3.4`; `update` fails when none exists and
//! returns `1.2.3.5`; `get` reports existence; `ensure_deleted` removes; every call is recorded.
//!
//! It offers interface 1.2's balancers (module `methods`): it gets the backend view with every
//! call and keeps, for each balancer, the view of its last `ensure`/`update` (without private
//! keys, see module `view`), so tests and users see what a provider was given.
//!
//! An optional cloud-config (YAML or JSON, see [`Config`]) lets tests add latency, make calls
//! fail (with a retry hint), panic, hang, return garbage or answer "still provisioning", turn
//! the view off or make it required, and keep the balancers in a state file (an SQLite
//! database) instead of memory: like a real cloud they then outlive a controller restart and are
//! shared by several controller processes, so leaked, lost or doubly created balancers become
//! visible. In memory, the call log and the creation and deletion history keep the last
//! [`MEMORY_HISTORY`] entries.

#![forbid(unsafe_code)]

mod config;
mod database;
mod key;
mod methods;
mod state;
mod store;
mod view;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use mcp_interface::prelude::*;

use key::Method;
use methods::Reply;
use state::{Call, Cloud};

pub use config::{BackendView, Capability, Config, Fault, FaultAction};
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
            backend_view = ?config.backend_view,
            "fake provider ready"
        );
        Ok(FakeProvider {
            config,
            store,
            fired: Mutex::new(HashMap::new()),
            running: Mutex::new(HashMap::new()),
        })
    }

    /// Itself, when it offers `capability` (through interface 1.2's balancer: `with_view`).
    fn offers(&self, capability: Capability, with_view: bool) -> Option<&Self> {
        let offered = if with_view {
            self.config.offers_with_view(capability)
        } else {
            self.config.offers(capability)
        };
        offered.then_some(self)
    }

    /// The balancers and the call log as they are now.
    pub fn state(&self) -> Result<State, ProviderError> {
        self.store.read()
    }

    /// Applies latency and any matching fault: what the call is to return instead of its own
    /// result, if anything.
    fn before_call(&self, method: &str, object: &str) -> Result<Option<Injected>, ProviderError> {
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
                FaultAction::Fail => return Err(fault.error(method, object)),
                FaultAction::Panic => panic!("injected panic in {method} for {object}"),
                FaultAction::Hang => {
                    std::thread::sleep(Duration::from_millis(fault.hang_ms.unwrap_or(3_600_000)));
                }
                FaultAction::Garbage => return Ok(Some(Injected::Garbage)),
                FaultAction::NoAddress => return Ok(Some(Injected::NoAddress)),
                FaultAction::Absent => return Ok(Some(Injected::Absent)),
                FaultAction::InProgress => {
                    return Ok(Some(Injected::InProgress(fault.check_after())));
                }
            }
        }
        Ok(None)
    }

    /// Runs one recorded call, or what a fault puts in its place; `view`: the call was given
    /// a resolved backend view.
    fn call<T>(
        &self,
        key: &BalancerKey,
        method: Method,
        view: bool,
        op: impl FnOnce(&mut dyn Cloud, &BalancerKey) -> Result<T, ProviderError>,
    ) -> Result<Reply<T>, ProviderError> {
        let object = key.object();
        let full_method = method.name(key.kind);
        let (_running, overlapping) = Running::start(&self.running, key);
        let result = match self.before_call(&full_method, &object) {
            Err(e) => Err(e),
            Ok(Some(Injected::Garbage)) => Ok(Reply::Garbage),
            Ok(injected) => self
                .store
                .update(|cloud| {
                    let result = op(cloud, key);
                    let error = result.as_ref().err().map(|e| e.message());
                    let call = Call {
                        method,
                        key,
                        error,
                        overlapping,
                        view,
                    };
                    cloud.record(call)?;
                    result
                })
                .map(|value| match injected {
                    Some(Injected::NoAddress) => Reply::NoAddress(value),
                    Some(Injected::Absent) => Reply::Absent(value),
                    Some(Injected::InProgress(after)) => Reply::InProgress(value, after),
                    Some(Injected::Garbage) | None => Reply::Normal(value),
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

/// What a fault makes a call return instead of its own result.
#[derive(Debug, Clone, Copy)]
enum Injected {
    Garbage,
    NoAddress,
    Absent,
    InProgress(Duration),
}

/// One `Provider` method offering the fake as `$balancer` when it offers `$capability` (with
/// the view: `$view`).
macro_rules! offer {
    ($method:ident -> $balancer:ident, $capability:ident, $view:expr) => {
        fn $method(&self) -> Option<&dyn $balancer> {
            Some(self.offers(Capability::$capability, $view)?)
        }
    };
}

/// The 1.0 traits whenever a kind is offered; the 1.2 balancers too unless `backendView: off`
/// (the SDK then calls those, with the view).
impl Provider for FakeProvider {
    offer!(multicluster_ingress -> MultiClusterIngressLoadBalancer, MultiClusterIngress, false);
    offer!(multicluster_service -> MultiClusterServiceLoadBalancer, MultiClusterService, false);
    offer!(multicluster_ingress_balancer -> MultiClusterIngressBalancer, MultiClusterIngress, true);
    offer!(multicluster_service_balancer -> MultiClusterServiceBalancer, MultiClusterService, true);

    fn backends_required(&self) -> bool {
        self.config.backend_view == BackendView::Required
    }
}

mcp_interface::export_provider!(name: NAME, factory: FakeProvider::from_cloud_config);

#[cfg(test)]
mod tests;
