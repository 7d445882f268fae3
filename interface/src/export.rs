//! The provider side of the boundary: what `export_provider!` expands to calls into here.
//!
//! Every `extern "C"` entry point runs the vendor's code inside `catch_unwind`, so a panic comes
//! back to the host as an error value instead of aborting the host process. Provider instances
//! live in an append-only table for the life of the process (libraries are never unloaded).

use std::any::Any;
use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Once, OnceLock, RwLock};

use abi_stable::{
    library::{CheckTypeLayout, LibHeader, RootModuleResult},
    prefix_type::PrefixTypeTrait,
    std_types::{ROption, RResult, RSlice, RStr, RString},
};
use serde::{Serialize, de::DeserializeOwned};

use crate::abi::{
    Capabilities, FfiError, FfiResult, GetResult, HostCallbacksRef, INTERFACE_VERSION, InstanceId,
    ProviderModule, ProviderModuleRef,
};
use crate::api::networking::{MultiClusterIngress, MultiClusterService};
use crate::error::{ErrorKind, ProviderError};
use crate::log_bridge;
use crate::sdk::{MultiClusterIngressLoadBalancer, MultiClusterServiceLoadBalancer, Provider};

/// The vendor's factory, boxed.
pub type Factory = fn(Option<&[u8]>) -> Result<Box<dyn Provider>, ProviderError>;

struct Registration {
    name: &'static str,
    version: &'static str,
    factory: Factory,
}

static REGISTRATION: OnceLock<Registration> = OnceLock::new();
static INSTANCES: RwLock<Vec<&'static dyn Provider>> = RwLock::new(Vec::new());

/// Builds the library header `export_provider!` exports under [`crate::abi::ROOT_MODULE_SYMBOL`].
pub const fn lib_header(constructor: extern "C" fn() -> RootModuleResult) -> LibHeader {
    // SAFETY: `constructor` returns the root module of type `ProviderModuleRef` (it is only ever
    // the function `export_provider!` generates, which calls `root_module` below), and the header
    // carries that type's layout so the host checks it before using the module.
    unsafe { LibHeader::from_constructor::<ProviderModuleRef>(constructor, CheckTypeLayout::Yes) }
}

/// Runs the root-module constructor the way abi_stable's `#[export_root_module]` does.
pub fn load_root_module(constructor: fn() -> ProviderModuleRef) -> RootModuleResult {
    abi_stable::library::__call_root_module_loader(constructor)
}

/// Registers the vendor's provider and returns the root module. Called once per library load.
pub fn root_module(
    name: &'static str,
    version: &'static str,
    factory: Factory,
) -> ProviderModuleRef {
    let _ = REGISTRATION.set(Registration {
        name,
        version,
        factory,
    });
    ProviderModule {
        name: ffi_name,
        interface_version: ffi_interface_version,
        provider_version: ffi_provider_version,
        install_host: ffi_install_host,
        create: ffi_create,
        capabilities: ffi_capabilities,
        mci_get: mci::get,
        mci_ensure: mci::ensure,
        mci_update: mci::update,
        mci_ensure_deleted: mci::ensure_deleted,
        mcs_get: mcs::get,
        mcs_ensure: mcs::ensure,
        mcs_update: mcs::update,
        mcs_ensure_deleted: mcs::ensure_deleted,
        set_call_timeout: ffi_set_call_timeout,
    }
    .leak_into_prefix()
}

fn registration() -> Option<&'static Registration> {
    REGISTRATION.get()
}

pub(crate) fn provider_name() -> &'static str {
    registration().map_or("unknown", |r| r.name)
}

thread_local! {
    /// Where the last panic on this thread happened, recorded by our panic hook.
    static PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

static PANIC_HOOK: Once = Once::new();

/// Replaces the library's panic hook (a library has its own copy of std's panic machinery, so
/// this does not touch the host's): the panic is logged through the host's log instead of being
/// printed to stderr, and its location is kept for the error message.
fn install_panic_hook() {
    PANIC_HOOK.call_once(|| {
        panic::set_hook(Box::new(|info| {
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_else(|| "unknown location".to_owned());
            tracing::error!(location = %location, "provider panicked: {}", payload_message(info.payload()));
            PANIC_LOCATION.with(|l| *l.borrow_mut() = Some(location));
        }));
    });
}

fn payload_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

/// Runs `f`, turning a panic into a `Panicked` error.
fn guard<T>(what: &str, f: impl FnOnce() -> Result<T, ProviderError>) -> Result<T, ProviderError> {
    install_panic_hook();
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let location = PANIC_LOCATION
                .with(|l| l.borrow_mut().take())
                .map(|l| format!(" at {l}"))
                .unwrap_or_default();
            Err(ProviderError::new(
                ErrorKind::Panicked,
                format!(
                    "provider {:?} panicked in {what}{location}: {}",
                    provider_name(),
                    payload_message(payload.as_ref())
                ),
            ))
        }
    }
}

fn to_ffi<T>(result: Result<T, ProviderError>) -> RResult<T, FfiError> {
    match result {
        Ok(v) => RResult::ROk(v),
        Err(e) => RResult::RErr(e.into_ffi()),
    }
}

extern "C" fn ffi_name() -> RStr<'static> {
    RStr::from_str(provider_name())
}

extern "C" fn ffi_interface_version() -> RStr<'static> {
    RStr::from_str(INTERFACE_VERSION)
}

extern "C" fn ffi_provider_version() -> RStr<'static> {
    RStr::from_str(registration().map_or("unknown", |r| r.version))
}

extern "C" fn ffi_install_host(host: HostCallbacksRef) {
    let _ = guard("install_host", || {
        install_panic_hook();
        log_bridge::install(host, provider_name());
        Ok(())
    });
}

extern "C" fn ffi_create(config: ROption<RSlice<'_, u8>>) -> RResult<InstanceId, FfiError> {
    to_ffi(guard("the factory", || {
        let registration = registration()
            .ok_or_else(|| ProviderError::permanent("the provider library was not initialised"))?;
        let config = config.into_option().map(|c| c.as_slice());
        let provider: &'static dyn Provider = Box::leak((registration.factory)(config)?);
        let mut instances = INSTANCES.write().unwrap_or_else(|e| e.into_inner());
        instances.push(provider);
        Ok((instances.len() - 1) as InstanceId)
    }))
}

fn instance(id: InstanceId) -> Result<&'static dyn Provider, ProviderError> {
    let instances = INSTANCES.read().unwrap_or_else(|e| e.into_inner());
    usize::try_from(id)
        .ok()
        .and_then(|i| instances.get(i).copied())
        .ok_or_else(|| {
            ProviderError::permanent(format!("no provider instance {id} in this library"))
        })
}

extern "C" fn ffi_capabilities(id: InstanceId) -> Capabilities {
    guard("capabilities", || {
        let provider = instance(id)?;
        let mut bits = 0;
        if provider.multicluster_ingress().is_some() {
            bits |= Capabilities::MULTICLUSTER_INGRESS;
        }
        if provider.multicluster_service().is_some() {
            bits |= Capabilities::MULTICLUSTER_SERVICE;
        }
        Ok(Capabilities(bits))
    })
    .unwrap_or_default()
}

extern "C" fn ffi_set_call_timeout(id: InstanceId, timeout_ms: u64) {
    let _ = guard("set_call_timeout", || {
        instance(id)?.set_call_timeout(std::time::Duration::from_millis(timeout_ms));
        Ok(())
    });
}

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

/// Runs one provider method: finds the instance's balancer of the kind (`balancer`), decodes the
/// `object` it is given, calls `f` and encodes its result.
fn with<B: ?Sized + 'static, O: DeserializeOwned, T: Serialize>(
    object: &str,
    method: &str,
    (id, input): (InstanceId, RStr<'_>),
    balancer: impl FnOnce(&'static dyn Provider) -> Option<&'static B>,
    f: impl FnOnce(&B, &O) -> Result<T, ProviderError>,
) -> FfiResult {
    to_ffi(guard(method, || {
        let lb = balancer(instance(id)?)
            .ok_or_else(|| not_supported(&format!("{object} load balancers")))?;
        encode(&f(lb, &decode(object, input)?)?)
    }))
}

/// The four entry points of one kind of balancer, in a module of their own (`mci::get`, ...):
/// each calls the vendor's method of the same name through [`with`].
macro_rules! entry_points {
    ($module:ident: $object:ident, $balancer:ident, $capability:ident) => {
        mod $module {
            use super::*;

            fn call<T: Serialize>(
                method: &str,
                args: (InstanceId, RStr<'_>),
                f: impl FnOnce(&(dyn $balancer + 'static), &$object) -> Result<T, ProviderError>,
            ) -> FfiResult {
                with(stringify!($object), method, args, |p| p.$capability(), f)
            }

            pub(super) extern "C" fn get(id: InstanceId, input: RStr<'_>) -> FfiResult {
                let method = concat!(stringify!($object), " get");
                call(method, (id, input), |lb, o| {
                    let status = lb.get(o)?;
                    Ok(GetResult {
                        exists: status.is_some(),
                        status,
                    })
                })
            }

            pub(super) extern "C" fn ensure(id: InstanceId, input: RStr<'_>) -> FfiResult {
                let method = concat!(stringify!($object), " ensure");
                call(method, (id, input), |lb, o| lb.ensure(o))
            }

            pub(super) extern "C" fn update(id: InstanceId, input: RStr<'_>) -> FfiResult {
                let method = concat!(stringify!($object), " update");
                call(method, (id, input), |lb, o| lb.update(o))
            }

            pub(super) extern "C" fn ensure_deleted(id: InstanceId, input: RStr<'_>) -> FfiResult {
                let method = concat!(stringify!($object), " ensure_deleted");
                call(method, (id, input), |lb, o| lb.ensure_deleted(o))
            }
        }
    };
}

entry_points!(mci: MultiClusterIngress, MultiClusterIngressLoadBalancer, multicluster_ingress);
entry_points!(mcs: MultiClusterService, MultiClusterServiceLoadBalancer, multicluster_service);

/// Exports a provider from a `cdylib` crate: the only line of boundary code a vendor writes.
///
/// ```ignore
/// mcp_interface::export_provider!(name: "mycloud", factory: MyCloud::from_cloud_config);
/// ```
///
/// `name` is what `--cloud-provider` selects (and the library file is `libmcp_provider_<name>.so`
/// with `-` written as `_`); `factory` is a `fn(Option<&[u8]>) -> Result<P, ProviderError>`
/// receiving the `--cloud-config` file's contents, where `P: Provider`.
#[macro_export]
macro_rules! export_provider {
    (name: $name:expr, factory: $factory:expr $(,)?) => {
        // The symbol name is abi_stable's root module loader; a unit test of the interface crate
        // keeps it equal to `abi_stable::library::ROOT_MODULE_LOADER_NAME`.
        #[doc(hidden)]
        #[unsafe(export_name = "_1as_0lib_1header_0root_bmodule_bloader")]
        pub static __MCP_PROVIDER_LIB_HEADER: $crate::__private::LibHeader = {
            extern "C" fn __mcp_provider_module() -> $crate::__private::RootModuleResult {
                $crate::__private::load_root_module(|| {
                    $crate::__private::root_module(
                        $name,
                        ::core::env!("CARGO_PKG_VERSION"),
                        |config| {
                            ($factory)(config).map(|provider| {
                                ::std::boxed::Box::new(provider)
                                    as ::std::boxed::Box<dyn $crate::sdk::Provider>
                            })
                        },
                    )
                })
            }
            $crate::__private::lib_header(__mcp_provider_module)
        };
    };
}

/// Exports an async provider (feature `async`, see [`sdk_async`](crate::sdk_async)) from a
/// `cdylib` crate.
///
/// ```ignore
/// mcp_interface::export_async_provider!(name: "mycloud", factory: new_provider);
/// ```
///
/// `factory` is an `async fn(Option<&[u8]>) -> Result<P, ProviderError>` receiving the
/// `--cloud-config` file's contents, where `P: AsyncProvider`. It runs on the instance's own
/// runtime, started just before it.
#[cfg(feature = "async")]
#[macro_export]
macro_rules! export_async_provider {
    (name: $name:expr, factory: $factory:expr $(,)?) => {
        $crate::export_provider!(name: $name, factory: |config: ::core::option::Option<&[u8]>| {
            $crate::__private::AsyncRuntime::start($name)?.create(($factory)(config))
        });
    };
}
