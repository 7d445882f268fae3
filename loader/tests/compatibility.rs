//! Interface evolution: libraries and hosts one minor version apart load into each other.
//!
//! The next minor version is the fixtures' `next-interface`: this interface's own source with one
//! more method appended to the vtable. `next-host` is the loader's source built against it.
//! The previous one is interface 1.1 as released (`fixtures-prev`: its `abi.rs`, a provider and a
//! host built against it): 1.1 providers are called as a 1.1 host called them, without the
//! backend view; 1.2 providers load into a 1.1 host.

#![forbid(unsafe_code)]

pub mod common;

use std::path::Path;
use std::process::Command;

use abi_stable::StableAbi;
use abi_stable::abi_stability::abi_checking::check_layout_compatibility;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use mcp_interface::abi::ProviderModuleRef;
use mcp_interface::api::networking::MultiClusterIngress;
use mcp_interface::backends::{BackendService, Backends};
use mcp_loader::{Encoded, SearchPath};

/// Runs the next host on `library`; its output, one `key=value` per line.
fn next_host(library: &Path) -> String {
    let host = common::fixtures_dir().join("fixture-next-host");
    let out = Command::new(&host).arg(library).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "next host failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn a_current_provider_loads_into_a_host_with_one_more_appended_method() {
    let stdout = next_host(&common::fake_library());
    assert!(stdout.contains("host_interface=1.3.0"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "library_interface={}",
            mcp_interface::INTERFACE_VERSION
        )),
        "{stdout}"
    );
    assert!(stdout.contains("next_method=not supported"), "{stdout}");
    assert!(stdout.contains("multiclusteringress=true"), "{stdout}");
    assert!(
        stdout.contains(r#"ensure={"ingress":[{"ip":"1.2.3.4"}]}"#),
        "{stdout}"
    );
}

#[test]
fn a_provider_built_against_the_next_minor_interface_loads_into_this_host() {
    let search = SearchPath::only(&[common::fixtures_dir().to_owned()]);
    let next = mcp_loader::load("next", &search, None).expect("newer minor loads");
    assert_eq!(next.info().interface_version, "1.3.0");

    // The library's vtable really is longer: ours is a prefix of it, not the other way round.
    let path = common::fixtures_dir().join("libmcp_provider_next.so");
    let header = abi_stable::library::lib_header_from_path(&path).unwrap();
    let theirs = header.root_mod_consts().layout().into_option().unwrap();
    let ours = <ProviderModuleRef as StableAbi>::LAYOUT;
    assert!(check_layout_compatibility(ours, theirs).is_ok());
    assert!(check_layout_compatibility(theirs, ours).is_err());

    // And a host of its own version sees the appended method.
    let stdout = next_host(&path);
    assert!(stdout.contains("next_method=supported"), "{stdout}");
    assert!(stdout.contains("library_interface=1.3.0"), "{stdout}");
}

fn web() -> MultiClusterIngress {
    MultiClusterIngress {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("default".into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test]
async fn a_provider_built_against_interface_1_1_is_called_as_a_1_1_host_called_it() {
    let search = SearchPath::only(&[common::prev_fixtures_dir().to_owned()]);
    let prev = mcp_loader::load("prev", &search, None).expect("a 1.1 provider loads");
    assert_eq!(prev.info().interface_version, "1.1.0");
    assert!(prev.supports_multicluster_ingress());
    // It has no `call` entry and never asked for the view: it is not sent one, even when the
    // caller resolved it (the provider refuses any input that carries one).
    assert!(!prev.wants_backends());
    let view = Backends {
        resolved: true,
        services: vec![BackendService {
            namespace: "default".into(),
            name: "serve".into(),
            found: true,
            ..Default::default()
        }],
        tls: vec![],
    };
    let applied = prev
        .ensure(&Encoded::with_backends(&web(), &view))
        .await
        .expect("ensure through the 1.1 entry");
    assert_eq!(
        serde_json::to_string(&applied.status).unwrap(),
        r#"{"ingress":[{"ip":"1.1.0.1"}]}"#
    );
    assert_eq!(applied.check_after, None);
}

#[test]
fn a_current_provider_loads_into_a_1_1_host() {
    let stdout = common::prev_host(&common::fake_library(), None);
    assert!(
        stdout.contains(&format!(
            "library_interface={}",
            mcp_interface::INTERFACE_VERSION
        )),
        "{stdout}"
    );
    assert!(stdout.contains("multiclusteringress=true"), "{stdout}");
    assert!(
        stdout.contains(r#"ensure={"ingress":[{"ip":"1.2.3.4"}]}"#),
        "{stdout}"
    );
}

#[test]
fn a_provider_that_needs_the_view_is_refused_by_a_1_1_host_with_one_sentence() {
    let stdout = common::prev_host(&common::fake_library(), Some("backendView: required"));
    let refusal = stdout
        .lines()
        .find_map(|line| line.strip_prefix("create_error="))
        .unwrap_or_else(|| panic!("the factory was not refused: {stdout}"));
    assert!(
        refusal.contains("needs the backend view of interface 1.2")
            && refusal.contains("upgrade the controller"),
        "{refusal}"
    );
    assert!(!stdout.contains("ensure="), "{stdout}");
}

#[test]
fn a_provider_with_an_optional_view_runs_without_it_in_a_1_1_host() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.db");
    let config = format!("backendView: optional\nstateFile: {}", state.display());
    let stdout = common::prev_host(&common::fake_library(), Some(&config));
    assert!(
        stdout.contains(r#"ensure={"ingress":[{"ip":"1.2.3.4"}]}"#),
        "{stdout}"
    );
    // The provider's 1.2 balancer was called, with the view marked unresolved.
    let state = common::fake_state(&state);
    let view = &state["balancers"]["mci/default/web"]["backends"];
    assert_eq!(view["resolved"], false, "{state}");
    assert_eq!(view["services"], serde_json::json!([]), "{state}");
}
