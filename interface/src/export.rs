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
    std_types::{ROption, RResult, RSlice, RStr},
};

use crate::abi::{
    Capabilities, FfiError, HostCallbacksRef, INTERFACE_VERSION, InstanceId, ProviderModule,
    ProviderModuleRef,
};
use crate::error::{ErrorKind, ProviderError};
use crate::log_bridge;
use crate::sdk::Provider;

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
        mci_get: entries::mci::get,
        mci_ensure: entries::mci::ensure,
        mci_update: entries::mci::update,
        mci_ensure_deleted: entries::mci::ensure_deleted,
        mcs_get: entries::mcs::get,
        mcs_ensure: entries::mcs::ensure,
        mcs_update: entries::mcs::update,
        mcs_ensure_deleted: entries::mcs::ensure_deleted,
        set_call_timeout: ffi_set_call_timeout,
        call: entries::call,
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

/// The host's interface version, when it says it (1.2 and later).
static HOST_INTERFACE: OnceLock<&'static str> = OnceLock::new();

extern "C" fn ffi_install_host(host: HostCallbacksRef) {
    let _ = guard("install_host", || {
        install_panic_hook();
        if let Some(version) = host.interface_version() {
            let _ = HOST_INTERFACE.set(version().as_str());
        }
        log_bridge::install(host, provider_name());
        Ok(())
    });
}

/// Refuses an instance that needs the backend view in a host that cannot give it (older than
/// interface 1.2, which does not say its version).
fn check_host_gives_backends(provider: &dyn Provider) -> Result<(), ProviderError> {
    let wants = provider.multicluster_ingress_balancer().is_some()
        || provider.multicluster_service_balancer().is_some();
    if !wants || !provider.backends_required() || HOST_INTERFACE.get().is_some() {
        return Ok(());
    }
    Err(ProviderError::permanent(format!(
        "provider {:?} needs the backend view of interface 1.2 (built against mcp-interface {INTERFACE_VERSION}), and this controller's interface is older than 1.2: upgrade the controller to a release with interface 1.2 or later, or make the provider's backends_required() return false so it runs without the view",
        provider_name()
    )))
}

extern "C" fn ffi_create(config: ROption<RSlice<'_, u8>>) -> RResult<InstanceId, FfiError> {
    to_ffi(guard("the factory", || {
        let registration = registration()
            .ok_or_else(|| ProviderError::permanent("the provider library was not initialised"))?;
        let config = config.into_option().map(|c| c.as_slice());
        let provider = (registration.factory)(config)?;
        check_host_gives_backends(provider.as_ref())?;
        let provider: &'static dyn Provider = Box::leak(provider);
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
        let ingress = provider.multicluster_ingress_balancer().is_some();
        let service = provider.multicluster_service_balancer().is_some();
        if ingress || provider.multicluster_ingress().is_some() {
            bits |= Capabilities::MULTICLUSTER_INGRESS;
        }
        if service || provider.multicluster_service().is_some() {
            bits |= Capabilities::MULTICLUSTER_SERVICE;
        }
        if ingress || service {
            bits |= Capabilities::BACKENDS;
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

mod entries;

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
