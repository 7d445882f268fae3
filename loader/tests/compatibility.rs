//! Interface evolution: libraries and hosts one minor version apart load into each other.

mod common;

use std::process::Command;

use mcp_loader::SearchPath;

#[test]
fn a_current_provider_loads_into_a_host_with_one_more_appended_method() {
    let host = common::fixtures_dir().join("fixture-next-host");
    let out = Command::new(&host)
        .arg(common::fake_library())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "next host failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("host_interface=1.2.0"), "{stdout}");
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
    assert_eq!(next.info().interface_version, "1.2.0");
}
