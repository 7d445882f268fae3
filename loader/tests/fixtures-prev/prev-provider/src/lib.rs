//! A provider library as interface 1.1 built them: the 1.1 vtable, MCI methods only; `ensure`
//! answers address 1.1.0.1 and records nothing of a view (1.1 had none).
#![allow(non_local_definitions)]
#![forbid(unsafe_code)]

use abi_stable::export_root_module;
use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::std_types::{ROption, RResult, RSlice, RStr, RString};
use mcp_interface::abi::{
    Capabilities, FfiError, FfiResult, HostCallbacksRef, INTERFACE_VERSION, InstanceId,
    ProviderModule, ProviderModuleRef,
};

extern "C" fn name() -> RStr<'static> {
    RStr::from_str("prev")
}

extern "C" fn interface_version() -> RStr<'static> {
    RStr::from_str(INTERFACE_VERSION)
}

extern "C" fn provider_version() -> RStr<'static> {
    RStr::from_str("1.1.0")
}

extern "C" fn install_host(_host: HostCallbacksRef) {}

extern "C" fn create(_config: ROption<RSlice<'_, u8>>) -> RResult<InstanceId, FfiError> {
    RResult::ROk(0)
}

extern "C" fn capabilities(_id: InstanceId) -> Capabilities {
    Capabilities(Capabilities::MULTICLUSTER_INGRESS)
}

fn answer(json: &str) -> FfiResult {
    RResult::ROk(RString::from(json))
}

extern "C" fn get(_id: InstanceId, _object: RStr<'_>) -> FfiResult {
    answer(r#"{"exists": false}"#)
}

extern "C" fn ensure(_id: InstanceId, object: RStr<'_>) -> FfiResult {
    // What it was sent must be the object alone, as a 1.1 host sends it.
    if !object.as_str().starts_with('{') || object.as_str().contains("\"services\"") {
        return RResult::RErr(FfiError {
            kind: 1,
            message: RString::from(format!("unexpected input {object}")),
        });
    }
    answer(r#"{"ingress": [{"ip": "1.1.0.1"}]}"#)
}

extern "C" fn deleted(_id: InstanceId, _object: RStr<'_>) -> FfiResult {
    answer("null")
}

extern "C" fn set_call_timeout(_id: InstanceId, _ms: u64) {}

#[export_root_module]
pub fn root() -> ProviderModuleRef {
    ProviderModule {
        name,
        interface_version,
        provider_version,
        install_host,
        create,
        capabilities,
        mci_get: get,
        mci_ensure: ensure,
        mci_update: ensure,
        mci_ensure_deleted: deleted,
        mcs_get: get,
        mcs_ensure: ensure,
        mcs_update: ensure,
        mcs_ensure_deleted: deleted,
        set_call_timeout,
    }
    .leak_into_prefix()
}
