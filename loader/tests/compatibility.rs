//! Interface evolution: libraries and hosts one minor version apart load into each other.
//!
//! The next minor version is the fixtures' `next-interface`: this interface's own source with one
//! more method appended to the vtable. `next-host` is the loader's source built against it.

#![forbid(unsafe_code)]

mod common;

use std::path::Path;
use std::process::Command;

use abi_stable::StableAbi;
use abi_stable::abi_stability::abi_checking::check_layout_compatibility;
use mcp_interface::abi::ProviderModuleRef;
use mcp_loader::SearchPath;

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
