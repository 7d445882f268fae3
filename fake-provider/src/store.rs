//! Where the fake keeps its cloud: in memory (the default), or in an SQLite database shared by
//! every process that loads the fake with the same `stateFile` (see [`crate::database`]).
//!
//! Both implement [`Cloud`], what one provider call may do; a call runs on one of them at a time
//! (under the memory lock, or in one database transaction), so a call is atomic.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::Mutex;

use mcp_interface::ProviderError;

use crate::database::Database;
use crate::key::BalancerKey;
use crate::state::{Balancer, Call, CallRecord, Cloud, State, Written, pid};

/// How many calls, creations and deletions the in-memory store remembers (the oldest are
/// forgotten first), so a long run does not grow without end. The database keeps them all.
pub const MEMORY_HISTORY: usize = 1_000;

/// A balancer in memory: its status and backend view as JSON text and the process that
/// created it.
#[derive(Debug)]
struct Stored {
    status: String,
    created_by: u32,
    backends: Option<String>,
}

/// The in-memory cloud, with a bounded history.
#[derive(Debug, Default)]
struct Memory {
    balancers: BTreeMap<String, Stored>,
    created: VecDeque<String>,
    deleted: VecDeque<String>,
    calls: VecDeque<CallRecord>,
    next_seq: u64,
}

fn push_bounded<T>(list: &mut VecDeque<T>, item: T) {
    if list.len() == MEMORY_HISTORY {
        list.pop_front();
    }
    list.push_back(item);
}

impl Cloud for Memory {
    fn status(&mut self, key: &BalancerKey) -> Result<Option<String>, ProviderError> {
        Ok(self
            .balancers
            .get(&key.to_string())
            .map(|b| b.status.clone()))
    }

    fn create(&mut self, key: &BalancerKey, new: Written<'_>) -> Result<(), ProviderError> {
        let key = key.to_string();
        let stored = Stored {
            status: new.status.to_owned(),
            created_by: pid(),
            backends: new.backends.map(str::to_owned),
        };
        self.balancers.insert(key.clone(), stored);
        push_bounded(&mut self.created, key);
        Ok(())
    }

    fn set_status(&mut self, key: &BalancerKey, new: Written<'_>) -> Result<bool, ProviderError> {
        Ok(match self.balancers.get_mut(&key.to_string()) {
            Some(balancer) => {
                new.status.clone_into(&mut balancer.status);
                balancer.backends = new.backends.map(str::to_owned);
                true
            }
            None => false,
        })
    }

    fn delete(&mut self, key: &BalancerKey) -> Result<(), ProviderError> {
        let key = key.to_string();
        if self.balancers.remove(&key).is_some() {
            push_bounded(&mut self.deleted, key);
        }
        Ok(())
    }

    fn record(&mut self, call: Call<'_>) -> Result<(), ProviderError> {
        self.next_seq += 1;
        let record = CallRecord {
            seq: self.next_seq,
            pid: pid(),
            method: call.method.name(call.key.kind),
            object: call.key.object(),
            error: call.error.map(str::to_owned),
            overlapping: call.overlapping,
            view: call.view,
        };
        push_bounded(&mut self.calls, record);
        Ok(())
    }
}

impl Memory {
    fn snapshot(&self) -> Result<State, ProviderError> {
        let balancers = self
            .balancers
            .iter()
            .map(|(key, b)| {
                let corrupt = |e| ProviderError::permanent(format!("corrupt fake state: {e}"));
                let status = serde_json::from_str(&b.status).map_err(corrupt)?;
                let backends = b.backends.as_deref().map(serde_json::from_str);
                let backends = backends.transpose().map_err(corrupt)?;
                let created_by = b.created_by;
                let balancer = Balancer {
                    status,
                    created_by,
                    backends,
                };
                Ok((key.clone(), balancer))
            })
            .collect::<Result<_, ProviderError>>()?;
        Ok(State {
            balancers,
            created: self.created.iter().cloned().collect(),
            deleted: self.deleted.iter().cloned().collect(),
            calls: self.calls.iter().cloned().collect(),
        })
    }
}

pub struct StateStore(Store);

enum Store {
    Memory(Mutex<Memory>),
    Database(Database),
}

impl StateStore {
    pub fn memory() -> Self {
        StateStore(Store::Memory(Mutex::default()))
    }

    /// The state database at `path`, created empty when missing. Fails when the file exists but
    /// is not a fake state database.
    pub fn file(path: &Path) -> Result<Self, ProviderError> {
        Ok(StateStore(Store::Database(Database::open(path)?)))
    }

    /// The whole state as it is now.
    pub fn read(&self) -> Result<State, ProviderError> {
        match &self.0 {
            Store::Memory(memory) => memory.lock().unwrap_or_else(|e| e.into_inner()).snapshot(),
            Store::Database(db) => db.read(),
        }
    }

    /// Runs `f` on the cloud atomically: under the lock in memory, in one transaction (that
    /// other processes wait for) in the database. What `f` did is kept even when it returns an
    /// error (a refused call is still recorded).
    pub(crate) fn update<T>(
        &self,
        f: impl FnOnce(&mut dyn Cloud) -> Result<T, ProviderError>,
    ) -> Result<T, ProviderError> {
        match &self.0 {
            Store::Memory(memory) => f(&mut *memory.lock().unwrap_or_else(|e| e.into_inner())),
            Store::Database(db) => db.transaction(f),
        }
    }
}

/// The state kept in the database at `path` (what another process's fake wrote); an empty state
/// when there is no such file. Not from a process that has loaded the fake library: its copy of
/// SQLite and this one would break each other's file locks (run `mcp-fake-state` there).
pub fn read_state_file(path: &Path) -> Result<State, ProviderError> {
    if !path.exists() {
        return Ok(State::default());
    }
    Database::open(path)?.read()
}

/// Replaces the state kept at `path` with `state` (for tests that start from a cloud another
/// controller left behind). The call sequence numbers are kept.
pub fn write_state_file(path: &Path, state: &State) -> Result<(), ProviderError> {
    Database::open(path)?.replace(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{Kind, Method};

    #[test]
    fn memory_history_is_bounded() {
        let store = StateStore::memory();
        for i in 0..MEMORY_HISTORY + 5 {
            store
                .update(|cloud| {
                    let key = BalancerKey::new(Kind::Mci, "ns", &i.to_string());
                    cloud.create(&key, Written::status("{}"))?;
                    cloud.delete(&key)?;
                    cloud.record(Call::plain(Method::Ensure, &key))
                })
                .unwrap();
        }
        let state = store.read().unwrap();
        assert_eq!(state.calls.len(), MEMORY_HISTORY);
        assert_eq!(state.created.len(), MEMORY_HISTORY);
        assert_eq!(state.deleted.len(), MEMORY_HISTORY);
        // The oldest are forgotten; sequence numbers keep counting.
        assert_eq!(state.calls[0].seq, 6);
        assert_eq!(state.created[0], "mci/ns/5");
        assert!(state.balancers.is_empty());
    }
}
