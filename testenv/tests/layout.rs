//! The rules of docs/architecture.md ("Rules") that a program can check, over the whole
//! repository: no Rust file over 450 lines, `#![forbid(unsafe_code)]` on every crate root outside
//! the crates that hold the FFI boundary and child-process handling, and no import circles
//! between the modules of a crate (top-level modules, and the children of each directory module).

#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Rule 13: files stay under this many lines.
const MAX_LINES: usize = 450;

/// The crates' directories (each with `src/`, and maybe `tests/`, `benches/`).
const CRATES: &[&str] = &[
    "interface",
    "loader",
    "fake-provider",
    "controller",
    "testenv",
    "examples/provider",
    "controller/tests/fixtures/broken-provider",
    // The loader's fixture workspaces: broken, older and newer libraries and hosts. Their
    // `next-interface` and `next-loader` are the interface and loader crates themselves, built
    // from the same sources, and are checked as those.
    "loader/tests/fixtures/bad-layout",
    "loader/tests/fixtures/old-interface",
    "loader/tests/fixtures/next-host",
    "loader/tests/fixtures/next-provider",
    "loader/tests/fixtures-prev/prev-interface",
    "loader/tests/fixtures-prev/prev-host",
    "loader/tests/fixtures-prev/prev-provider",
];

/// Crates whose library and binary roots may allow `unsafe` (rule 10): the FFI boundary
/// (interface's export macro, the loader's library), and testenv's child-process handling. Those
/// roots deny undocumented `unsafe` blocks instead; their tests and benches forbid it too.
/// The loader's fixtures that declare an abi_stable root module themselves, as the interface
/// crate does (`derive(StableAbi)` expands to `unsafe` code), are checked as those.
const UNSAFE_CRATES: &[&str] = &[
    "interface",
    "loader",
    "testenv",
    "loader/tests/fixtures/bad-layout",
    "loader/tests/fixtures/old-interface",
    "loader/tests/fixtures-prev/prev-interface",
];

/// Crate roots outside those crates that may not forbid `unsafe`, with why: each must still
/// deny it, allowing it on one item.
const UNSAFE_ROOTS: &[(&str, &str)] = &[(
    "controller/src/main.rs",
    "jemalloc's `malloc_conf` symbol, read by the C library (#[unsafe(export_name)])",
)];

fn root() -> PathBuf {
    mcp_testenv::repo_root()
}

/// Every `.rs` file under `dir`, skipping build output and fixture crates listed on their own.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name != "target" && !name.to_string_lossy().starts_with('.') {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn no_rust_file_is_over_450_lines() {
    let mut files = Vec::new();
    for krate in CRATES {
        rust_files(&root().join(krate), &mut files);
    }
    assert!(files.len() > 100, "found only {} files", files.len());
    let mut long: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let lines = std::fs::read_to_string(file).unwrap().lines().count();
            (lines > MAX_LINES).then(|| format!("{} ({lines} lines)", relative(file)))
        })
        .collect();
    long.sort();
    long.dedup();
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines (split them by meaning, docs/architecture.md rule 13):\n  {}",
        long.join("\n  ")
    );
}

/// The crate roots of a crate directory: its library, binaries, integration tests and benches
/// (a test in a directory has its `main.rs` as root).
fn crate_roots(krate: &Path) -> Vec<PathBuf> {
    let mut roots = Vec::new();
    for file in ["src/lib.rs", "src/main.rs"] {
        if krate.join(file).is_file() {
            roots.push(krate.join(file));
        }
    }
    for dir in ["src/bin", "tests", "benches", "examples"] {
        let Ok(entries) = std::fs::read_dir(krate.join(dir)) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "rs") {
                roots.push(path);
            } else if path.join("main.rs").is_file() {
                roots.push(path.join("main.rs"));
            }
        }
    }
    roots
}

#[test]
fn every_crate_root_forbids_unsafe_outside_the_ffi_crates() {
    let mut wrong = Vec::new();
    let mut checked = 0;
    for krate in CRATES {
        for file in crate_roots(&root().join(krate)) {
            let text = std::fs::read_to_string(&file).unwrap();
            let name = relative(&file);
            checked += 1;
            let library = file.starts_with(root().join(krate).join("src"));
            if UNSAFE_CRATES.contains(krate) && library {
                if !text.contains("#![forbid(unsafe_code)]")
                    && !text.contains("#![deny(clippy::undocumented_unsafe_blocks)]")
                {
                    wrong.push(format!(
                        "{name}: neither forbids unsafe nor denies undocumented unsafe blocks"
                    ));
                }
            } else if UNSAFE_ROOTS.iter().any(|(root, _)| *root == name) {
                if !text.contains("#![deny(unsafe_code)]") {
                    wrong.push(format!("{name}: must deny unsafe_code (allowing one item)"));
                }
            } else if !text.contains("#![forbid(unsafe_code)]") {
                wrong.push(format!("{name}: no #![forbid(unsafe_code)]"));
            }
        }
    }
    assert!(checked > 20, "checked only {checked} crate roots");
    assert!(
        wrong.is_empty(),
        "crate roots breaking docs/architecture.md rule 10:\n  {}",
        wrong.join("\n  ")
    );
}

/// The code of a file without its comments (doc links name modules without importing them).
fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter_map(|line| {
        let code = match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        };
        (!code.trim().is_empty()).then_some(code)
    })
}

/// The identifiers following `prefix` in `code` (`crate::` followed by `cache::Change` gives
/// `cache`), including those inside `use prefix{a, b::c}` groups.
fn names_after(code: &str, prefix: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                names.push(name);
            }
        } else {
            names.push(
                rest.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect(),
            );
        }
    }
    names.retain(|n| !n.is_empty() && n != "self");
    names
}

/// A module's name from its file or directory (`cache/mod.rs` and `cache.rs` are `cache`).
fn module_name(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

type Graph = BTreeMap<String, BTreeSet<String>>;

/// Whether `file` holds unit tests only (`tests.rs`, `*_tests.rs`, or a file under `tests/`).
fn is_test_file(file: &Path) -> bool {
    let name = module_name(file);
    name == "tests"
        || name.ends_with("_tests")
        || file.components().any(|c| c.as_os_str() == "tests")
}

/// Adds, for every file of the module `from`, the edges to the modules it names. Unit tests are
/// left out (a module's tests may drive it through the modules above it): the rule is about
/// the code that ships.
fn edges_from(
    graph: &mut Graph,
    from: &str,
    files: &[PathBuf],
    refs: impl Fn(&str) -> Vec<String>,
) {
    for file in files.iter().filter(|f| !is_test_file(f)) {
        let text = std::fs::read_to_string(file).unwrap();
        let text = match text.find("#[cfg(test)]\nmod tests") {
            Some(at) => &text[..at],
            None => &text,
        };
        for code in code_lines(text) {
            for to in refs(code) {
                if to != from {
                    graph.entry(from.to_owned()).or_default().insert(to);
                }
            }
        }
    }
}

/// The modules of a directory: `name.rs` files (not `mod.rs`, `lib.rs`, `main.rs`) and
/// directories with `mod.rs`, each with the files that make it up.
fn modules(dir: &Path) -> BTreeMap<String, Vec<PathBuf>> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let name = module_name(&path);
        if path.is_dir() {
            if path.join("mod.rs").is_file() || dir.join(format!("{name}.rs")).is_file() {
                let mut files = Vec::new();
                shipped_files(&path, &mut files);
                out.entry(name).or_insert_with(Vec::new).extend(files);
            }
        } else if path.extension().is_some_and(|e| e == "rs")
            && !["mod", "lib", "main"].contains(&name.as_str())
            && path.parent().is_some_and(|p| !p.ends_with("bin"))
        {
            out.entry(name).or_insert_with(Vec::new).push(path);
        }
    }
    for name in test_only_modules(dir) {
        out.remove(&name);
    }
    out
}

/// The modules of a directory that its parent file declares for unit tests only
/// (`#[cfg(test)] mod fixtures;`).
fn test_only_modules(dir: &Path) -> Vec<String> {
    let parent = ["mod.rs", "lib.rs"]
        .iter()
        .map(|f| dir.join(f))
        .chain(
            dir.parent()
                .map(|p| p.join(format!("{}.rs", module_name(dir)))),
        )
        .find(|f| f.is_file());
    let Some(parent) = parent else {
        return Vec::new();
    };
    let text = std::fs::read_to_string(parent).unwrap();
    let mut names = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if line == "#[cfg(test)]"
            && let Some(decl) = lines.next()
        {
            let decl = decl
                .trim_start_matches("pub ")
                .trim_start_matches("pub(crate) ");
            if let Some(name) = decl.strip_prefix("mod ").and_then(|d| d.strip_suffix(';')) {
                names.push(name.to_owned());
            }
        }
    }
    names
}

/// The files of the module directory `dir` that ship: without its unit-test modules.
fn shipped_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let tests = test_only_modules(dir);
    for (name, files) in modules(dir) {
        if !tests.contains(&name) {
            out.extend(files);
        }
    }
    for file in ["mod.rs", "lib.rs"] {
        if dir.join(file).is_file() {
            out.push(dir.join(file));
        }
    }
}

/// The circles of `graph` (its strongly connected components of two or more modules).
fn circles(graph: &Graph) -> Vec<Vec<String>> {
    let reaches = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_owned()];
        while let Some(node) = todo.pop() {
            for next in graph.get(&node).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let nodes: Vec<&String> = graph.keys().collect();
    let reach: BTreeMap<&String, BTreeSet<String>> =
        nodes.iter().map(|n| (*n, reaches(n))).collect();
    let mut out: Vec<Vec<String>> = Vec::new();
    for node in &nodes {
        let component: Vec<String> = nodes
            .iter()
            .filter(|other| {
                *other != node && reach[node].contains(**other) && reach[**other].contains(*node)
            })
            .map(|n| (*n).clone())
            .chain([(*node).clone()])
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if component.len() > 1 && !out.contains(&component) {
            out.push(component);
        }
    }
    out
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let mut found = Vec::new();
    let mut graphs = 0;
    for krate in CRATES {
        let src = root().join(krate).join("src");
        let top = modules(&src);
        // Top-level modules, through `crate::name`.
        let mut graph = Graph::new();
        for (name, files) in &top {
            edges_from(&mut graph, name, files, |code| {
                names_after(code, "crate::")
                    .into_iter()
                    .filter(|n| top.contains_key(n))
                    .collect()
            });
        }
        graphs += 1;
        for circle in circles(&graph) {
            found.push(format!("{krate}: {}", circle.join(" <-> ")));
        }
        // The children of each directory module, through `crate::parent::name` and, from a
        // child's own file, `super::name`.
        for parent in top.keys() {
            let dir = src.join(parent);
            if !dir.is_dir() {
                continue;
            }
            let children = modules(&dir);
            let mut graph = Graph::new();
            for (name, files) in &children {
                let crate_prefix = format!("crate::{parent}::");
                for file in files {
                    let direct = file.parent() == Some(dir.as_path());
                    edges_from(&mut graph, name, std::slice::from_ref(file), |code| {
                        let mut refs = names_after(code, &crate_prefix);
                        if direct {
                            refs.extend(names_after(code, "super::"));
                        }
                        refs.retain(|n| children.contains_key(n));
                        refs
                    });
                }
            }
            graphs += 1;
            for circle in circles(&graph) {
                found.push(format!("{krate}: {parent}::{{{}}}", circle.join(" <-> ")));
            }
        }
    }
    assert!(graphs > 10, "built only {graphs} module graphs");
    assert!(
        found.is_empty(),
        "import circles (docs/architecture.md rule 8: modules import downwards):\n  {}",
        found.join("\n  ")
    );
}

#[test]
fn the_circle_finder_finds_a_circle() {
    let mut graph = Graph::new();
    graph.entry("a".into()).or_default().insert("b".into());
    graph.entry("b".into()).or_default().insert("c".into());
    graph.entry("c".into()).or_default().insert("a".into());
    graph.entry("c".into()).or_default().insert("d".into());
    assert_eq!(circles(&graph), vec![vec!["a", "b", "c"]]);
    assert_eq!(
        names_after("use crate::{cache::Change, error};", "crate::"),
        vec!["cache", "error"]
    );
    assert_eq!(
        names_after("x = mcrate::a; crate::b::c", "crate::"),
        vec!["b"]
    );
}
