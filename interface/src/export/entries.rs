//! The provider methods' entry points: the per-method entries of interface 1.0 (`mci::get`, ...)
//! and interface 1.2's single [`call`], with the backend view and a JSON reply.
//!
//! Both reach the vendor's balancer through one adapter per kind (`Balancer`): a provider's
//! interface 1.2 balancer (`MultiClusterIngressBalancer`) when it offers one, else its 1.0
//! `MultiClusterIngressLoadBalancer`, which never sees a view and is always done. A 1.2 balancer
//! called through a 1.0 entry (a host older than 1.2) gets [`Backends::unresolved`] and its
//! progress is reduced to the status so far.

use std::time::Duration;

use abi_stable::std_types::{RStr, RString};
use serde::{Serialize, de::DeserializeOwned};

use super::{guard, instance, provider_name, to_ffi};
use crate::abi::{CallReply, FfiResult, GetResult, InstanceId, call_kind, call_method};
use crate::backends::Backends;
use crate::error::{ErrorKind, ProviderError};
use crate::sdk::Progress;

fn decode<T: DeserializeOwned>(what: &str, input: RStr<'_>) -> Result<T, ProviderError> {
    serde_json::from_str(input.as_str()).map_err(|e| {
        ProviderError::new(
            ErrorKind::InvalidInput,
            format!("the provider could not decode the {what} it was given: {e}"),
        )
    })
}

fn encode<T: Serialize>(value: &T) -> Result<RString, ProviderError> {
    serde_json::to_string(value)
        .map(RString::from)
        .map_err(|e| {
            ProviderError::permanent(format!("the provider could not encode its result: {e}"))
        })
}

fn not_supported(what: &str) -> ProviderError {
    ProviderError::new(
        ErrorKind::NotSupported,
        format!("provider {:?} does not support {what}", provider_name()),
    )
}

fn millis(delay: Duration) -> u64 {
    u64::try_from(delay.as_millis()).unwrap_or(u64::MAX)
}

/// A successful 1.2 reply.
fn ok<T: Serialize>(result: T, check_after: Option<Duration>) -> Result<RString, ProviderError> {
    encode(&CallReply::Ok {
        result,
        check_after_ms: check_after.map(millis),
    })
}

/// A failed 1.2 reply. Encoding a reply of strings and numbers cannot fail; should it, the
/// reply says so in the shape the host reads.
fn failed(error: &ProviderError) -> RString {
    let reply = CallReply::<()>::Err {
        kind: error.kind().as_str().to_owned(),
        message: error.message().to_owned(),
        retry_after_ms: error.retry_after().map(millis),
    };
    serde_json::to_string(&reply)
        .map(RString::from)
        .unwrap_or_else(|e| {
            RString::from(format!(
                r#"{{"err":{{"kind":"permanent","message":"the provider could not encode its error: {e}"}}}}"#
            ))
        })
}

/// Interface 1.2's entry: one method of one kind, with the backend view (`null`: none).
pub(super) extern "C" fn call(
    id: InstanceId,
    kind: u8,
    method: u8,
    object: RStr<'_>,
    backends: RStr<'_>,
) -> RString {
    let what = format!("{} {}", kind_name(kind), method_name(method));
    let reply = guard(&what, || {
        let provider = instance(id)?;
        let backends = match backends.as_str().trim() {
            "" | "null" => Backends::unresolved(),
            _ => decode("backend view", backends)?,
        };
        match kind {
            call_kind::MULTICLUSTER_INGRESS => mci::dispatch(provider, method, object, &backends),
            call_kind::MULTICLUSTER_SERVICE => mcs::dispatch(provider, method, object, &backends),
            other => Err(not_supported(&format!("object kind {other}"))),
        }
    });
    reply.unwrap_or_else(|e| failed(&e))
}

fn kind_name(kind: u8) -> &'static str {
    match kind {
        call_kind::MULTICLUSTER_INGRESS => "MultiClusterIngress",
        call_kind::MULTICLUSTER_SERVICE => "MultiClusterService",
        _ => "unknown kind",
    }
}

fn method_name(method: u8) -> &'static str {
    match method {
        call_method::GET => "get",
        call_method::ENSURE => "ensure",
        call_method::UPDATE => "update",
        call_method::ENSURE_DELETED => "ensure_deleted",
        _ => "unknown method",
    }
}

/// One kind's adapter, its 1.2 dispatch and its four 1.0 entries, in a module of their own
/// (`mci::get`, ...).
macro_rules! entry_points {
    ($module:ident: $object:ident => $status:ty,
        $balancer:ident / $capability:ident, $legacy:ident / $legacy_capability:ident) => {
        pub(super) mod $module {
            use super::*;
            use crate::api::networking::$object;
            use crate::sdk::{Provider, $balancer, $legacy};

            /// The vendor's balancer of this kind, 1.2 or 1.0.
            enum Balancer {
                Current(&'static dyn $balancer),
                Legacy(&'static dyn $legacy),
            }

            fn balancer(provider: &'static dyn Provider) -> Result<Balancer, ProviderError> {
                if let Some(lb) = provider.$capability() {
                    Ok(Balancer::Current(lb))
                } else if let Some(lb) = provider.$legacy_capability() {
                    Ok(Balancer::Legacy(lb))
                } else {
                    Err(not_supported(concat!(
                        stringify!($object),
                        " load balancers"
                    )))
                }
            }

            impl Balancer {
                fn get(
                    &self,
                    o: &$object,
                    b: &Backends,
                ) -> Result<GetResult<$status>, ProviderError> {
                    let status = match self {
                        Balancer::Current(lb) => lb.get(o, b)?,
                        Balancer::Legacy(lb) => lb.get(o)?,
                    };
                    Ok(GetResult {
                        exists: status.is_some(),
                        status,
                    })
                }

                fn ensure(
                    &self,
                    o: &$object,
                    b: &Backends,
                ) -> Result<Progress<$status>, ProviderError> {
                    match self {
                        Balancer::Current(lb) => lb.ensure(o, b),
                        Balancer::Legacy(lb) => lb.ensure(o).map(Progress::done),
                    }
                }

                fn update(
                    &self,
                    o: &$object,
                    b: &Backends,
                ) -> Result<Progress<$status>, ProviderError> {
                    match self {
                        Balancer::Current(lb) => lb.update(o, b),
                        Balancer::Legacy(lb) => lb.update(o).map(Progress::done),
                    }
                }

                fn ensure_deleted(&self, o: &$object, b: &Backends) -> Result<(), ProviderError> {
                    match self {
                        Balancer::Current(lb) => lb.ensure_deleted(o, b),
                        Balancer::Legacy(lb) => lb.ensure_deleted(o),
                    }
                }
            }

            pub(in super::super) fn dispatch(
                provider: &'static dyn Provider,
                method: u8,
                object: RStr<'_>,
                backends: &Backends,
            ) -> Result<RString, ProviderError> {
                let lb = balancer(provider)?;
                let o: $object = decode(stringify!($object), object)?;
                match method {
                    call_method::GET => ok(lb.get(&o, backends)?, None),
                    call_method::ENSURE => {
                        let progress = lb.ensure(&o, backends)?;
                        ok(progress.status, progress.check_after)
                    }
                    call_method::UPDATE => {
                        let progress = lb.update(&o, backends)?;
                        ok(progress.status, progress.check_after)
                    }
                    call_method::ENSURE_DELETED => ok(lb.ensure_deleted(&o, backends)?, None),
                    other => Err(not_supported(&format!("method {other}"))),
                }
            }

            /// A 1.0 entry: no view, the result alone.
            fn legacy<T: Serialize>(
                method: &str,
                (id, input): (InstanceId, RStr<'_>),
                f: impl FnOnce(&Balancer, &$object, &Backends) -> Result<T, ProviderError>,
            ) -> FfiResult {
                to_ffi(guard(method, || {
                    let lb = balancer(instance(id)?)?;
                    let o = decode(stringify!($object), input)?;
                    encode(&f(&lb, &o, &Backends::unresolved())?)
                }))
            }

            pub(in super::super) extern "C" fn get(id: InstanceId, input: RStr<'_>) -> FfiResult {
                legacy(
                    concat!(stringify!($object), " get"),
                    (id, input),
                    Balancer::get,
                )
            }

            pub(in super::super) extern "C" fn ensure(
                id: InstanceId,
                input: RStr<'_>,
            ) -> FfiResult {
                legacy(
                    concat!(stringify!($object), " ensure"),
                    (id, input),
                    |lb, o, b| lb.ensure(o, b).map(|p| p.status),
                )
            }

            pub(in super::super) extern "C" fn update(
                id: InstanceId,
                input: RStr<'_>,
            ) -> FfiResult {
                legacy(
                    concat!(stringify!($object), " update"),
                    (id, input),
                    |lb, o, b| lb.update(o, b).map(|p| p.status),
                )
            }

            pub(in super::super) extern "C" fn ensure_deleted(
                id: InstanceId,
                input: RStr<'_>,
            ) -> FfiResult {
                legacy(
                    concat!(stringify!($object), " ensure_deleted"),
                    (id, input),
                    Balancer::ensure_deleted,
                )
            }
        }
    };
}

entry_points!(mci: MultiClusterIngress => k8s_openapi::api::networking::v1::IngressLoadBalancerStatus,
    MultiClusterIngressBalancer / multicluster_ingress_balancer,
    MultiClusterIngressLoadBalancer / multicluster_ingress);
entry_points!(mcs: MultiClusterService => k8s_openapi::api::core::v1::LoadBalancerStatus,
    MultiClusterServiceBalancer / multicluster_service_balancer,
    MultiClusterServiceLoadBalancer / multicluster_service);
