//! `make test` (what CI runs) runs every test: a test compiled only with a crate feature (a
//! `cfg` on `feature`) runs only if the Makefile's `test` recipe passes that feature to that
//! crate.

#![forbid(unsafe_code)]

use std::collections::BTreeSet;

#[test]
fn every_feature_gated_test_is_run_by_make_test() {
    let root = mcp_testenv::repo_root();
    let makefile = std::fs::read_to_string(root.join("Makefile")).unwrap();
    let recipe: Vec<&str> = makefile
        .lines()
        .skip_while(|l| !l.starts_with("test:"))
        .skip(1)
        .take_while(|l| l.starts_with('\t'))
        .collect();
    assert!(!recipe.is_empty(), "no `test` recipe in the Makefile");
    let mut missing = Vec::new();
    let mut found = 0;
    for member in [
        "interface",
        "loader",
        "fake-provider",
        "controller",
        "testenv",
    ] {
        let manifest = std::fs::read_to_string(root.join(member).join("Cargo.toml")).unwrap();
        let package = manifest
            .lines()
            .find_map(|l| l.strip_prefix("name = \""))
            .and_then(|l| l.strip_suffix('"'))
            .unwrap()
            .to_owned();
        // Every file of the integration tests, also the modules of a test in a directory
        // (`tests/api_roundtrip/main.rs` and its modules); fixtures are crates of their own.
        let mut files = Vec::new();
        let mut dirs = vec![root.join(member).join("tests")];
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for path in entries.filter_map(Result::ok).map(|e| e.path()) {
                if path.is_dir() && !path.ends_with("fixtures") {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    files.push(path);
                }
            }
        }
        let mut features = BTreeSet::new();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            for part in text.split("cfg(feature = \"").skip(1) {
                features.insert(part.split('"').next().unwrap().to_owned());
            }
        }
        for feature in features {
            found += 1;
            let run = recipe.iter().any(|line| {
                line.contains(&format!("-p {package}"))
                    && line
                        .split("--features")
                        .nth(1)
                        .and_then(|rest| rest.split_whitespace().next())
                        .is_some_and(|list| list.split(',').any(|f| f == feature))
            });
            if !run {
                missing.push(format!("{package} --features {feature}"));
            }
        }
    }
    assert!(found > 0, "no feature-gated test found: the scan is broken");
    assert!(
        missing.is_empty(),
        "tests behind these features never run in `make test`: {missing:?}"
    );
}
