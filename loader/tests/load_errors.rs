//! Each way loading can fail, with a real broken library, gives one clear paragraph.

#![forbid(unsafe_code)]

pub mod common;

use std::path::Path;
use std::process::Command;

use mcp_loader::{LoadError, SearchPath};

fn load_path(path: &Path) -> LoadError {
    mcp_loader::load(path.to_str().unwrap(), &SearchPath::only(&[]), None).unwrap_err()
}

fn assert_one_paragraph(text: &str) {
    assert!(
        !text.contains('\n'),
        "one paragraph, no multi-line dump: {text}"
    );
    assert!(!text.contains("panicked"), "{text}");
}

#[test]
fn no_such_provider_lists_directories_and_what_is_there() {
    let (empty, _) = common::lone_file("README", b"nothing here");
    let search = SearchPath::only(&[empty.path().to_owned(), common::fake_dir().to_owned()]);
    let err = mcp_loader::load("acme", &search, None).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, LoadError::NotFound { .. }));
    assert!(text.contains("libmcp_provider_acme.so"), "{text}");
    assert!(text.contains(&empty.path().display().to_string()), "{text}");
    assert!(
        text.contains(&common::fake_dir().display().to_string()),
        "{text}"
    );
    assert!(
        text.contains("fake ("),
        "names the providers that exist: {text}"
    );
    assert_one_paragraph(&text);
}

#[test]
fn a_text_file_is_not_a_shared_library() {
    let (_dir, path) = common::lone_file("libmcp_provider_text.so", b"#!/bin/sh\necho hi\n");
    let err = load_path(&path);
    assert!(matches!(err, LoadError::NotALibrary { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("is not a shared library that this machine can load"),
        "{text}"
    );
    assert!(text.contains(std::env::consts::ARCH), "{text}");
    assert_one_paragraph(&text);
}

#[test]
fn a_library_for_another_architecture_is_refused() {
    let mut bytes = std::fs::read(common::fake_library()).unwrap();
    // ELF e_machine (offset 18, little endian): pretend to be AArch64 (183) or, on an ARM
    // machine, x86-64 (62).
    let other: u16 = if cfg!(target_arch = "aarch64") {
        62
    } else {
        183
    };
    bytes[18..20].copy_from_slice(&other.to_le_bytes());
    let (_dir, path) = common::lone_file("libmcp_provider_arm.so", &bytes);
    let err = load_path(&path);
    assert!(matches!(err, LoadError::NotALibrary { .. }), "{err}");
    assert_one_paragraph(&err.to_string());
}

#[test]
fn a_shared_library_without_the_root_module_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("plain.c");
    std::fs::write(&source, "int answer(void) { return 42; }\n").unwrap();
    let lib = dir.path().join("libmcp_provider_plain.so");
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(&source)
        .status()
        .expect("a C compiler (cc) is needed to build this fixture");
    assert!(status.success());
    let err = load_path(&lib);
    assert!(matches!(err, LoadError::MissingRootModule { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("not a multicluster cloud provider"), "{text}");
    assert!(text.contains("export_provider!"), "{text}");
    assert_one_paragraph(&text);
}

#[test]
fn a_library_built_for_an_older_major_interface_names_both_versions() {
    let err = load_path(&common::fixtures_dir().join("libmcp_provider_old.so"));
    assert!(
        matches!(err, LoadError::IncompatibleInterface { .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("built for provider interface 0.9.0"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "this controller speaks interface {}",
            mcp_interface::INTERFACE_VERSION
        )),
        "{text}"
    );
    assert_one_paragraph(&text);
}

#[test]
fn a_library_with_an_incompatible_layout_is_refused_in_one_sentence() {
    let err = load_path(&common::fixtures_dir().join("libmcp_provider_badlayout.so"));
    let LoadError::IncompatibleLayout { report, .. } = &err else {
        panic!("expected a layout error, got {err}");
    };
    // The full abi_stable report is kept for debug logging, not shown.
    assert!(report.lines().count() > 10);
    let text = err.to_string();
    assert!(
        text.contains("do not match the interface's layout"),
        "{text}"
    );
    assert!(text.contains("-v=4"), "{text}");
    assert_one_paragraph(&text);
}

#[test]
fn a_library_whose_provider_has_another_name_is_refused() {
    let bytes = std::fs::read(common::fake_library()).unwrap();
    let (dir, _path) = common::lone_file("libmcp_provider_acme.so", &bytes);
    let err =
        mcp_loader::load("acme", &SearchPath::only(&[dir.path().to_owned()]), None).unwrap_err();
    assert!(matches!(err, LoadError::NameMismatch { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("asked for cloud provider \"acme\""), "{text}");
    assert!(text.contains("is provider \"fake\""), "{text}");
    assert_one_paragraph(&text);
}

#[test]
fn the_factory_failure_is_reported_with_the_providers_message() {
    let search = SearchPath::only(&[common::fake_dir().to_owned()]);
    let err = mcp_loader::load("fake", &search, Some(b"latencyMS: [")).unwrap_err();
    assert!(matches!(err, LoadError::Factory { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("cloud provider \"fake\" failed to start"),
        "{text}"
    );
    assert!(text.contains("invalid fake cloud-config"), "{text}");

    let err = mcp_loader::load("fake", &search, Some(b"failFactory: bad credentials")).unwrap_err();
    assert!(err.to_string().contains("bad credentials"), "{err}");
}

#[test]
fn an_explicit_path_that_does_not_exist() {
    let err = load_path(Path::new("/nonexistent/libmcp_provider_fake.so"));
    assert!(matches!(err, LoadError::NoSuchFile { .. }), "{err}");
}
