//! Tests of the state database: sharing between stores and processes, atomic calls, the file format.

use super::*;
use crate::key::{Kind, Method};
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
    a.update(|cloud| cloud.create(&key("x"), Written::status(r#"{"ingress": []}"#)))
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
                                cloud.create(&key("shared"), Written::status("{}"))?;
                            }
                            let own = key(&format!("{t}-{i}"));
                            cloud.create(&own, Written::status("{}"))?;
                            cloud.record(Call::plain(Method::Ensure, &own))
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
    store
        .update(|cloud| cloud.create(&key("x"), Written::status("{}")))
        .unwrap();
    // Creating it again breaks the primary key: the call log entry goes too.
    let err = store
        .update(|cloud| {
            cloud.record(Call::plain(Method::Ensure, &key("x")))?;
            cloud.create(&key("x"), Written::status("{}"))
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
        .update(|cloud| {
            let key = BalancerKey::new(Kind::Mci, "a", "d");
            cloud.record(Call::plain(Method::Get, &key))
        })
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
        .pragma_update(None, "user_version", 3)
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

/// A file fake provider 1.1 left: schema version 1, a balancer and a call.
const FILE_1: &str = "
PRAGMA user_version = 1;
INSERT INTO balancers VALUES ('mci/ns/old', '{\"ingress\":[{\"ip\":\"1.2.3.4\"}]}', 7);
INSERT INTO created (key) VALUES ('mci/ns/old');
INSERT INTO calls (pid, method, object, overlapping) VALUES (7, 'mci_ensure', 'ns/old', 1);
";

#[test]
fn a_version_1_file_is_migrated_in_place() {
    let (_dir, path) = state_file();
    Connection::open(&path)
        .unwrap()
        .execute_batch(&format!("{SCHEMA_1}{FILE_1}"))
        .unwrap();
    let store = StateStore::file(&path).unwrap();
    let version: i64 = Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, 2);
    // What version 1 held is all there, without views.
    let state = store.read().unwrap();
    assert_eq!(state.balancers["mci/ns/old"].created_by, 7);
    assert_eq!(state.balancers["mci/ns/old"].backends, None);
    assert_eq!(state.created, ["mci/ns/old"]);
    assert_eq!(state.calls[0].overlapping, 1);
    assert!(!state.calls[0].view);
    // The old balancer takes a view, and calls record theirs.
    let view = r#"{"resolved":true,"services":[],"tls":[]}"#;
    store
        .update(|cloud| {
            let old = key("old");
            let new = Written {
                status: "{}",
                backends: Some(view),
            };
            assert!(cloud.set_status(&old, new)?);
            let call = Call {
                view: true,
                ..Call::plain(Method::Update, &old)
            };
            cloud.record(call)
        })
        .unwrap();
    // A second opener finds version 2 and changes nothing.
    let state = crate::read_state_file(&path).unwrap();
    assert_eq!(
        state.balancers["mci/ns/old"].backends,
        Some(serde_json::from_str(view).unwrap())
    );
    assert!(state.calls[1].view);
    assert_eq!(state.calls[1].seq, 2);
}

#[test]
fn views_and_view_flags_round_trip_through_the_file() {
    let (_dir, path) = state_file();
    let state: State = serde_json::from_value(serde_json::json!({
        "balancers": {"mci/a/b": {"status": {}, "createdBy": 7,
                                  "backends": {"resolved": true, "services": [{"name": "s"}]}},
                      "mci/a/c": {"status": {}, "createdBy": 7}},
        "created": ["mci/a/b", "mci/a/c"], "deleted": [],
        "calls": [{"seq": 1, "pid": 7, "method": "mci_ensure", "object": "a/b", "view": true},
                  {"seq": 2, "pid": 7, "method": "mci_ensure", "object": "a/c"}]
    }))
    .unwrap();
    crate::write_state_file(&path, &state).unwrap();
    assert_eq!(crate::read_state_file(&path).unwrap(), state);
}
