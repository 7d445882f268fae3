//! Tests of the state database: sharing between stores and processes, atomic calls, the file format.

use super::*;
use crate::key::Kind;
use crate::store::StateStore;

/// A path for a state file in a directory of its own (removed when the guard is dropped).
fn state_file() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    (dir, path)
}

fn key(name: &str) -> BalancerKey {
    BalancerKey::new(Kind::Mci, "ns", name)
}

#[test]
fn the_database_is_shared_between_stores() {
    let (_dir, path) = state_file();
    let a = StateStore::file(&path).unwrap();
    let b = StateStore::file(&path).unwrap();
    a.update(|cloud| cloud.create(&key("x"), r#"{"ingress": []}"#))
        .unwrap();
    assert_eq!(b.read().unwrap().creations("mci/ns/x"), 1);
    b.update(|cloud| cloud.delete(&key("x"))).unwrap();
    let state = a.read().unwrap();
    assert!(state.balancers.is_empty());
    assert_eq!(state.deleted, ["mci/ns/x"]);
}

#[test]
fn calls_through_separate_connections_are_atomic() {
    let (_dir, path) = state_file();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let path = path.clone();
            std::thread::spawn(move || {
                // Its own connection, as another process would have.
                let store = StateStore::file(&path).unwrap();
                for i in 0..50 {
                    store
                        .update(|cloud| {
                            if cloud.status(&key("shared"))?.is_none() {
                                cloud.create(&key("shared"), "{}")?;
                            }
                            let own = key(&format!("{t}-{i}"));
                            cloud.create(&own, "{}")?;
                            cloud.record(Method::Ensure, &own, None, 0)
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let state = crate::read_state_file(&path).unwrap();
    assert_eq!(state.creations("mci/ns/shared"), 1);
    assert_eq!(state.balancers.len(), 201);
    let seqs: Vec<u64> = state.calls.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, (1..=200).collect::<Vec<_>>());
}

#[test]
fn a_failed_statement_keeps_nothing_of_the_call() {
    let (_dir, path) = state_file();
    let store = StateStore::file(&path).unwrap();
    store.update(|cloud| cloud.create(&key("x"), "{}")).unwrap();
    // Creating it again breaks the primary key: the call log entry goes too.
    let err = store
        .update(|cloud| {
            cloud.record(Method::Ensure, &key("x"), None, 0)?;
            cloud.create(&key("x"), "{}")
        })
        .unwrap_err();
    assert!(err.message().contains("UNIQUE"), "{err}");
    let state = store.read().unwrap();
    assert!(state.calls.is_empty());
    assert_eq!(state.created, ["mci/ns/x"]);
}

#[test]
fn a_state_round_trips_through_the_file() {
    let (_dir, path) = state_file();
    let state: State = serde_json::from_value(serde_json::json!({
        "balancers": {"mcs/a/b": {"status": {"ingress": [{"ip": "1.2.3.4"}]}, "createdBy": 7}},
        "created": ["mcs/a/b", "mci/a/c"], "deleted": ["mci/a/c"],
        "calls": [{"seq": 3, "pid": 7, "method": "mcs_ensure", "object": "a/b"},
                  {"seq": 4, "pid": 7, "method": "mci_get", "object": "a/c", "error": "x"}]
    }))
    .unwrap();
    crate::write_state_file(&path, &state).unwrap();
    assert_eq!(crate::read_state_file(&path).unwrap(), state);
    // Sequence numbers go on from the last one.
    StateStore::file(&path)
        .unwrap()
        .update(|cloud| cloud.record(Method::Get, &BalancerKey::new(Kind::Mci, "a", "d"), None, 0))
        .unwrap();
    assert_eq!(crate::read_state_file(&path).unwrap().calls[2].seq, 5);
}

#[test]
fn files_that_are_not_fake_state_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("old.json");
    std::fs::write(
        &json,
        br#"{"balancers": {}, "created": [], "deleted": [], "calls": []}"#,
    )
    .unwrap();
    let err = StateStore::file(&json).err().unwrap();
    assert!(
        err.message().contains("is not a fake state database"),
        "{err}"
    );
    assert!(
        err.message().contains("JSON file of an older fake"),
        "{err}"
    );

    let other = dir.path().join("other.db");
    Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    let err = StateStore::file(&other).err().unwrap();
    assert!(err.message().contains("of something else"), "{err}");

    let newer = dir.path().join("newer.db");
    Connection::open(&newer)
        .unwrap()
        .pragma_update(None, "user_version", 2)
        .unwrap();
    let err = StateStore::file(&newer).err().unwrap();
    assert!(err.message().contains("newer fake provider"), "{err}");
}

#[test]
fn a_missing_file_reads_as_an_empty_cloud_and_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.db");
    assert_eq!(crate::read_state_file(&path).unwrap(), State::default());
    assert!(!path.exists());
}
