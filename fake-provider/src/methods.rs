//! The four balancer methods, for balancers of either kind, and the SDK traits made of them:
//! interface 1.0's `MultiClusterIngressLoadBalancer` (no view, always done) and 1.2's
//! `MultiClusterIngressBalancer` (with the view, which `ensure`/`update` store with the
//! balancer, and [`Progress`]), and their MultiClusterService twins.

use std::time::Duration;

use mcp_interface::prelude::*;
use serde::{Serialize, de::DeserializeOwned};

use crate::key::{BalancerKey, Kind, Method};
use crate::state::{Cloud, Written};
use crate::{ENSURED_IP, FakeProvider, UPDATED_IP, view};

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

fn ensure(cloud: &mut dyn Cloud, key: &BalancerKey, new: Written<'_>) -> Result<(), ProviderError> {
    if cloud.status(key)?.is_some() {
        return Err(ProviderError::permanent(format!(
            "load balancer {key} already exists"
        )));
    }
    cloud.create(key, new)
}

fn update(cloud: &mut dyn Cloud, key: &BalancerKey, new: Written<'_>) -> Result<(), ProviderError> {
    if cloud.set_status(key, new)? {
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
pub(crate) enum Reply<T> {
    Normal(T),
    /// A status no cloud would return: the host must refuse it.
    Garbage,
    /// The call did its work, but the balancer has no address (yet).
    NoAddress(T),
    /// The call did its work; a `get` reports no balancer ([`reply_get`]).
    Absent(T),
    /// The call did its work; `ensure`/`update` answer that the balancer is still being
    /// provisioned, without an address, and when to check back ([`progress`]).
    InProgress(T, Duration),
}

/// The call's result, with `garbage` and `no_address` making the faults' replacements.
fn reply<T>(
    result: Result<Reply<T>, ProviderError>,
    garbage: impl FnOnce() -> T,
    no_address: impl FnOnce(T) -> T,
) -> Result<T, ProviderError> {
    result.map(|r| match r {
        Reply::Normal(value) | Reply::Absent(value) | Reply::InProgress(value, _) => value,
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

/// An `ensure`'s or `update`'s result: as [`reply`], and `inprogress` gives the status so far
/// (no address) with the delay.
fn progress<S: Status>(result: Result<Reply<S>, ProviderError>) -> Applied<S> {
    result.map(|r| match r {
        Reply::Normal(status) | Reply::Absent(status) => Progress::done(status),
        Reply::Garbage => Progress::done(with_ip(GARBAGE_IP)),
        Reply::NoAddress(_) => Progress::done(S::default()),
        Reply::InProgress(_, after) => Progress::in_progress(S::default(), after),
    })
}

/// Whether a call was given a resolved view (recorded in the call log).
fn resolved(backends: Option<&Backends>) -> bool {
    backends.is_some_and(|b| b.resolved)
}

/// The four methods; `backends` is the call's view, `None` for a 1.0 call.
impl FakeProvider {
    fn get_balancer<S: Status>(
        &self,
        key: BalancerKey,
        backends: Option<&Backends>,
    ) -> Result<Option<S>, ProviderError> {
        let r = self.call(&key, Method::Get, resolved(backends), get);
        reply_get(r, || Some(with_ip("not-an-ip")))
    }

    /// Creates the balancer with `ip` (`ensure`) or gives the existing one `ip` (`update`),
    /// keeping the call's view with it.
    fn apply_balancer<S: Status>(
        &self,
        key: BalancerKey,
        method: Method,
        backends: Option<&Backends>,
    ) -> Applied<S> {
        let stored = backends.map(view::stored).transpose()?;
        let r = self.call(&key, method, resolved(backends), |cloud, key| {
            let creating = matches!(method, Method::Ensure);
            let status: S = with_ip(if creating { ENSURED_IP } else { UPDATED_IP });
            let json = to_json(&status)?;
            let new = Written {
                status: &json,
                backends: stored.as_deref(),
            };
            let apply = if creating { ensure } else { update };
            apply(cloud, key, new).map(|()| status)
        });
        progress(r)
    }

    fn delete_balancer(
        &self,
        key: BalancerKey,
        backends: Option<&Backends>,
    ) -> Result<(), ProviderError> {
        let r = self.call(
            &key,
            Method::EnsureDeleted,
            resolved(backends),
            |cloud, key| cloud.delete(key),
        );
        reply(r, || (), |()| ())
    }
}

/// What an interface 1.2 `ensure` or `update` returns.
type Applied<S> = Result<Progress<S>, ProviderError>;

/// Implements one kind's SDK traits, 1.0 and 1.2, with the methods above.
macro_rules! balancer {
    ($legacy:ident, $current:ident for $kind:expr, $object:ty => $status:ty) => {
        /// Interface 1.0: no view; an `inprogress` fault only takes the address away.
        impl $legacy for FakeProvider {
            fn get(&self, o: &$object) -> Result<Option<$status>, ProviderError> {
                self.get_balancer(BalancerKey::of($kind, &o.metadata), None)
            }

            fn ensure(&self, o: &$object) -> Result<$status, ProviderError> {
                let key = BalancerKey::of($kind, &o.metadata);
                Ok(self.apply_balancer(key, Method::Ensure, None)?.status)
            }

            fn update(&self, o: &$object) -> Result<$status, ProviderError> {
                let key = BalancerKey::of($kind, &o.metadata);
                Ok(self.apply_balancer(key, Method::Update, None)?.status)
            }

            fn ensure_deleted(&self, o: &$object) -> Result<(), ProviderError> {
                self.delete_balancer(BalancerKey::of($kind, &o.metadata), None)
            }
        }

        impl $current for FakeProvider {
            fn get(&self, o: &$object, b: &Backends) -> Result<Option<$status>, ProviderError> {
                self.get_balancer(BalancerKey::of($kind, &o.metadata), Some(b))
            }

            fn ensure(&self, o: &$object, b: &Backends) -> Applied<$status> {
                self.apply_balancer(BalancerKey::of($kind, &o.metadata), Method::Ensure, Some(b))
            }

            fn update(&self, o: &$object, b: &Backends) -> Applied<$status> {
                self.apply_balancer(BalancerKey::of($kind, &o.metadata), Method::Update, Some(b))
            }

            fn ensure_deleted(&self, o: &$object, b: &Backends) -> Result<(), ProviderError> {
                self.delete_balancer(BalancerKey::of($kind, &o.metadata), Some(b))
            }
        }
    };
}

balancer!(MultiClusterIngressLoadBalancer, MultiClusterIngressBalancer
    for Kind::Mci, MultiClusterIngress => IngressLoadBalancerStatus);
balancer!(MultiClusterServiceLoadBalancer, MultiClusterServiceBalancer
    for Kind::Mcs, MultiClusterService => LoadBalancerStatus);
