//! Where the fake keeps its balancers: in memory, or in a JSON state file shared by every
//! process that loads the fake with the same `stateFile` (read-modify-write under an exclusive
//! file lock, written atomically by rename).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;

use mcp_interface::ProviderError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Balancer {
    pub status: serde_json::Value,
    /// Which process created it.
    pub created_by: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallRecord {
    pub seq: u64,
    pub pid: u32,
    pub method: String,
    pub object: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How many other calls about the same object this process was still running when this one
    /// started (a host must never overlap them: see docs/vendors.md).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub overlapping: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The fake cloud: its balancers, every balancer ever created (in order) and the call log.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub balancers: BTreeMap<String, Balancer>,
    /// Keys in creation order; a key appearing twice without a deletion in between can't happen
    /// (ensure refuses), so tests count creations per key from here.
    pub created: Vec<String>,
    pub deleted: Vec<String>,
    pub calls: Vec<CallRecord>,
}

impl State {
    pub(crate) fn create(&mut self, key: &str, status: serde_json::Value) {
        self.balancers.insert(
            key.to_owned(),
            Balancer {
                status,
                created_by: std::process::id(),
            },
        );
        self.created.push(key.to_owned());
    }

    pub(crate) fn delete(&mut self, key: &str) {
        if self.balancers.remove(key).is_some() {
            self.deleted.push(key.to_owned());
        }
    }

    pub(crate) fn record(
        &mut self,
        method: &str,
        object: &str,
        error: Option<&str>,
        overlapping: u32,
    ) {
        let seq = self.calls.last().map_or(1, |c| c.seq + 1);
        self.calls.push(CallRecord {
            seq,
            pid: std::process::id(),
            method: method.to_owned(),
            object: object.to_owned(),
            error: error.map(str::to_owned),
            overlapping,
        });
    }

    /// How many times `key` was created.
    pub fn creations(&self, key: &str) -> usize {
        self.created.iter().filter(|k| *k == key).count()
    }
}

pub enum StateStore {
    Memory(Mutex<State>),
    File { path: PathBuf, lock: Mutex<()> },
}

fn io_error(what: &str, path: &std::path::Path, e: impl std::fmt::Display) -> ProviderError {
    ProviderError::retryable(format!("fake state file {}: {what}: {e}", path.display()))
}

impl StateStore {
    pub fn memory() -> Self {
        StateStore::Memory(Mutex::new(State::default()))
    }

    /// A state file; created empty when missing. Fails when it exists but can't be read.
    pub fn file(path: PathBuf) -> Result<Self, ProviderError> {
        let store = StateStore::File {
            path,
            lock: Mutex::new(()),
        };
        store
            .read()
            .map_err(|e| ProviderError::permanent(e.message().to_owned()))?;
        Ok(store)
    }

    pub fn read(&self) -> Result<State, ProviderError> {
        self.update(|state| Ok(state.clone()))
    }

    /// Runs `f` on the state; in file mode, under an exclusive lock across processes, writing
    /// the result back only when it changed.
    pub fn update<T>(
        &self,
        f: impl FnOnce(&mut State) -> Result<T, ProviderError>,
    ) -> Result<T, ProviderError> {
        match self {
            StateStore::Memory(state) => f(&mut state.lock().unwrap_or_else(|e| e.into_inner())),
            StateStore::File { path, lock } => {
                let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
                let lock_path = path.with_extension("lock");
                let lock_file = OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&lock_path)
                    .map_err(|e| io_error("cannot open its lock file", &lock_path, e))?;
                lock_file
                    .lock()
                    .map_err(|e| io_error("cannot lock", &lock_path, e))?;
                let mut state = match std::fs::read(path) {
                    Ok(bytes) if bytes.is_empty() => State::default(),
                    Ok(bytes) => serde_json::from_slice(&bytes)
                        .map_err(|e| io_error("is not valid fake state", path, e))?,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
                    Err(e) => return Err(io_error("cannot be read", path, e)),
                };
                let before = state.clone();
                let result = f(&mut state);
                if state != before {
                    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
                    let mut file =
                        File::create(&tmp).map_err(|e| io_error("cannot be written", &tmp, e))?;
                    let bytes = serde_json::to_vec_pretty(&state)
                        .map_err(|e| io_error("cannot be encoded", path, e))?;
                    file.write_all(&bytes)
                        .map_err(|e| io_error("cannot be written", &tmp, e))?;
                    file.sync_all()
                        .map_err(|e| io_error("cannot be synced", &tmp, e))?;
                    std::fs::rename(&tmp, path)
                        .map_err(|e| io_error("cannot be replaced", path, e))?;
                }
                drop(lock_file);
                result
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_state_is_shared_between_stores() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let a = StateStore::file(path.clone()).unwrap();
        let b = StateStore::file(path.clone()).unwrap();
        a.update(|s| {
            s.create("mci/ns/x", serde_json::json!({}));
            Ok(())
        })
        .unwrap();
        assert_eq!(b.read().unwrap().creations("mci/ns/x"), 1);
        b.update(|s| {
            s.delete("mci/ns/x");
            Ok(())
        })
        .unwrap();
        assert!(a.read().unwrap().balancers.is_empty());
    }

    #[test]
    fn corrupt_state_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, b"{not json").unwrap();
        let err = StateStore::file(path).err().unwrap();
        assert!(err.message().contains("not valid fake state"), "{err}");
    }
}
