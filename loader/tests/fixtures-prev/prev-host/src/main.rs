//! A 1.1 host: `fixture-prev-host LIBRARY [CLOUD_CONFIG_TEXT]`. Prints `load_error=`, or
//! `library_interface=`, then `create_error=` or `multiclusteringress=` and `ensure=` (the JSON
//! the library returned) or `ensure_error=`.
#![forbid(unsafe_code)]

use abi_stable::library::RootModule;
use abi_stable::prefix_type::WithMetadata;
use abi_stable::std_types::{ROption, RResult, RSlice, RStr};
use mcp_interface::abi::{
    Capabilities, HostCallbacks, HostCallbacksRef, LogRecord, ProviderModuleRef,
};

extern "C" fn enabled(_level: u8, _target: RStr<'_>) -> bool {
    false
}

extern "C" fn log(_record: &LogRecord<'_>) {}

static CALLBACKS: &WithMetadata<HostCallbacks> =
    &WithMetadata::new(HostCallbacks { enabled, log });

const MCI: &str = r#"{"apiVersion":"networking.karmada.io/v1alpha1","kind":"MultiClusterIngress","metadata":{"name":"web","namespace":"default"},"spec":{}}"#;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: fixture-prev-host LIBRARY [CLOUD_CONFIG]");
    let config = args.next();
    let module = match ProviderModuleRef::load_from_file(path.as_ref()) {
        Ok(module) => module,
        Err(e) => {
            println!("load_error={e}");
            return;
        }
    };
    println!("library_interface={}", module.interface_version()());
    module.install_host()(HostCallbacksRef(CALLBACKS.static_as_prefix()));
    let config = match &config {
        Some(text) => ROption::RSome(RSlice::from_slice(text.as_bytes())),
        None => ROption::RNone,
    };
    let instance = match module.create()(config) {
        RResult::ROk(instance) => instance,
        RResult::RErr(e) => {
            println!("create_error={}", e.message);
            return;
        }
    };
    let capabilities = module.capabilities()(instance);
    println!(
        "multiclusteringress={}",
        capabilities.has(Capabilities::MULTICLUSTER_INGRESS)
    );
    let Some(ensure) = module.mci_ensure() else {
        println!("ensure_error=missing");
        return;
    };
    match ensure(instance, RStr::from_str(MCI)) {
        RResult::ROk(json) => println!("ensure={json}"),
        RResult::RErr(e) => println!("ensure_error={}", e.message),
    }
}
