//! The fake cloud in an SQLite database (`stateFile`), shared by every process that opens it.
//!
//! WAL journal, one `BEGIN IMMEDIATE` transaction per provider call (other processes wait for
//! it, up to [`BUSY_TIMEOUT`]), `synchronous=NORMAL`: a committed call survives a crash of the
//! process that made it (a killed controller), and a call costs a few index look-ups whatever
//! the size of the cloud. The schema (`PRAGMA user_version` 2) is documented in
//! `docs/fake-provider.md`; tests and scripts read it with [`crate::read_state_file`], the
//! `mcp-fake-state` command or `sqlite3`. A version 1 file (fake provider 1.1) is brought to
//! version 2 in place when opened ([`MIGRATIONS`]).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use mcp_interface::ProviderError;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use crate::key::BalancerKey;
use crate::state::{Balancer, Call, CallRecord, Cloud, State, Written};

/// How long a call waits for another process's transaction before failing (retryable).
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

const SCHEMA_VERSION: i64 = 2;

/// The tables of schema version 1 (fake provider 1.1). A new file is made with them and then
/// brought to [`SCHEMA_VERSION`] by [`MIGRATIONS`], as a version 1 file is, so both are alike.
/// `docs/fake-provider.md` shows the resulting schema.
pub(crate) const SCHEMA_1: &str = "
CREATE TABLE balancers (
    key        TEXT PRIMARY KEY,   -- mci/<namespace>/<name> or mcs/<namespace>/<name>
    status     TEXT NOT NULL,      -- the status the provider returns, as JSON
    created_by INTEGER NOT NULL    -- the process id that created it
) WITHOUT ROWID;
CREATE TABLE created (seq INTEGER PRIMARY KEY, key TEXT NOT NULL);
CREATE TABLE deleted (seq INTEGER PRIMARY KEY, key TEXT NOT NULL);
CREATE TABLE calls (
    seq    INTEGER PRIMARY KEY,
    pid    INTEGER NOT NULL,
    method TEXT NOT NULL,          -- mci_get, mci_ensure, ..., mcs_ensure_deleted
    object TEXT NOT NULL,          -- <namespace>/<name>
    error  TEXT,                   -- the error message, when the call failed
    overlapping INTEGER NOT NULL DEFAULT 0 -- calls about the same object this process was
                                           -- still running when this one started
);
CREATE INDEX created_key ON created (key);
CREATE INDEX calls_object ON calls (object, method);
";

/// `MIGRATIONS[i]` brings a database of schema version `i + 1` to version `i + 2`.
const MIGRATIONS: [&str; 1] = [
    // 1 to 2 (fake provider 1.2): each balancer's backend view of its last ensure/update, as
    // JSON with private keys as sha256:<hex> (NULL: that call had none), and whether a call
    // had a resolved view. Existing balancers and calls had none.
    "ALTER TABLE balancers ADD COLUMN backends TEXT;
     ALTER TABLE calls ADD COLUMN view INTEGER NOT NULL DEFAULT 0;",
];

pub struct Database {
    path: PathBuf,
    connection: Mutex<Connection>,
}

fn error(path: &Path, what: &str, e: impl std::fmt::Display) -> ProviderError {
    ProviderError::retryable(format!("fake state file {}: {what}: {e}", path.display()))
}

/// Why one attempt at opening failed.
enum OpenFailure {
    /// Another connection holds a lock SQLite does not wait for here (a journal-mode switch or
    /// the first schema read racing another opener): try again.
    Busy(rusqlite::Error),
    Failed(ProviderError),
}

/// Whether `e` is SQLite's "another connection holds the lock", which SQLite's busy handler does
/// not always wait out (changing the journal mode, a read transaction that must upgrade).
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

impl Database {
    /// Opens the database at `path`, creating it (and its tables) when missing. Processes that
    /// open the same new file at once wait for each other, up to [`BUSY_TIMEOUT`].
    pub fn open(path: &Path) -> Result<Database, ProviderError> {
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        let mut pause = Duration::from_millis(2);
        loop {
            match Self::try_open(path) {
                Ok(database) => return Ok(database),
                Err(OpenFailure::Failed(e)) => return Err(e),
                Err(OpenFailure::Busy(e)) if std::time::Instant::now() >= deadline => {
                    return Err(error(
                        path,
                        &format!("is locked by another process for {BUSY_TIMEOUT:?}"),
                        e,
                    ));
                }
                Err(OpenFailure::Busy(_)) => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(100));
                }
            }
        }
    }

    fn try_open(path: &Path) -> Result<Database, OpenFailure> {
        // A busy error is waited out by `open`; any other one is final, with `what` or, when the
        // file is not an SQLite database at all, the sentence about older fakes' JSON files.
        let fail = |what: &'static str| {
            move |e: rusqlite::Error| {
                if is_busy(&e) {
                    OpenFailure::Busy(e)
                } else {
                    OpenFailure::Failed(error(path, what, e))
                }
            }
        };
        let not_ours = |e: rusqlite::Error| {
            if is_busy(&e) {
                return OpenFailure::Busy(e);
            }
            OpenFailure::Failed(ProviderError::permanent(format!(
                "fake state file {}: is not a fake state database ({e}). Since fake provider 1.1 the state file is an SQLite database; a JSON file of an older fake cannot be read: remove it or choose another stateFile",
                path.display()
            )))
        };
        let mut connection = Connection::open(path).map_err(fail("cannot be opened"))?;
        connection
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(fail("cannot be opened"))?;
        // WAL lets readers (tests, mcp-fake-state) run while a controller writes; NORMAL syncs at
        // checkpoints only, which is durable against a crashed process.
        connection
            .query_row("PRAGMA journal_mode = WAL", [], |row| {
                row.get::<_, String>(0)
            })
            .map_err(not_ours)?;
        connection
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(fail("cannot be set up"))?;
        let tx = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail("cannot be locked"))?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(not_ours)?;
        let from = match version {
            0 => {
                let tables: i64 = tx
                    .query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))
                    .map_err(not_ours)?;
                if tables > 0 {
                    return Err(OpenFailure::Failed(ProviderError::permanent(format!(
                        "fake state file {}: is an SQLite database of something else (it has tables but no fake schema version); choose another stateFile",
                        path.display()
                    ))));
                }
                tx.execute_batch(SCHEMA_1)
                    .map_err(fail("cannot be created"))?;
                1
            }
            1..=SCHEMA_VERSION => version,
            other => {
                return Err(OpenFailure::Failed(ProviderError::permanent(format!(
                    "fake state file {}: has schema version {other}, written by a newer fake provider (this one reads version {SCHEMA_VERSION})",
                    path.display()
                ))));
            }
        };
        if from < SCHEMA_VERSION {
            // Versions 1 to SCHEMA_VERSION - 1 index MIGRATIONS from 0.
            let pending = usize::try_from(from - 1).unwrap_or_default();
            MIGRATIONS[pending..]
                .iter()
                .try_for_each(|migration| tx.execute_batch(migration))
                .and_then(|()| tx.pragma_update(None, "user_version", SCHEMA_VERSION))
                .map_err(fail("cannot be brought to the current schema version"))?;
        }
        tx.commit().map_err(fail("cannot be created"))?;
        Ok(Database {
            path: path.to_owned(),
            connection: Mutex::new(connection),
        })
    }

    /// Runs `f` in one immediate transaction, committed whatever `f` returns unless a statement
    /// failed (then nothing of it is kept and the call fails, retryable).
    pub(crate) fn transaction<T>(
        &self,
        f: impl FnOnce(&mut dyn Cloud) -> Result<T, ProviderError>,
    ) -> Result<T, ProviderError> {
        let mut connection = self.connection.lock().unwrap_or_else(|e| e.into_inner());
        let tx = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| error(&self.path, "cannot be locked", e))?;
        let mut cloud = Sql {
            tx: &tx,
            path: &self.path,
            failed: None,
        };
        let result = f(&mut cloud);
        if let Some(failed) = cloud.failed {
            // Dropping the transaction rolls it back.
            return Err(failed);
        }
        tx.commit()
            .map_err(|e| error(&self.path, "cannot be written", e))?;
        result
    }

    /// The whole state, read in one transaction (a consistent snapshot).
    pub fn read(&self) -> Result<State, ProviderError> {
        let mut connection = self.connection.lock().unwrap_or_else(|e| e.into_inner());
        let tx = connection
            .transaction()
            .map_err(|e| error(&self.path, "cannot be read", e))?;
        read_all(&tx).map_err(|e| error(&self.path, "cannot be read", e))
    }

    /// Replaces everything with `state`.
    pub fn replace(&self, state: &State) -> Result<(), ProviderError> {
        let mut connection = self.connection.lock().unwrap_or_else(|e| e.into_inner());
        let tx = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| error(&self.path, "cannot be locked", e))?;
        write_all(&tx, state)
            .and_then(|()| tx.commit())
            .map_err(|e| error(&self.path, "cannot be written", e))
    }
}

fn read_all(tx: &Transaction<'_>) -> rusqlite::Result<State> {
    let mut state = State::default();
    let mut balancers = tx.prepare("SELECT key, status, created_by, backends FROM balancers")?;
    let rows = balancers.query_map([], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, u32>(2)?,
            row.get::<_, Option<String>>(3)?,
        ))
    })?;
    let json = |column: usize, text: &str| {
        serde_json::from_str(text).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(
                column,
                rusqlite::types::Type::Text,
                Box::new(e),
            )
        })
    };
    for row in rows {
        let (key, status, created_by, backends) = row?;
        let balancer = Balancer {
            status: json(1, &status)?,
            created_by,
            backends: backends.map(|b| json(3, &b)).transpose()?,
        };
        state.balancers.insert(key, balancer);
    }
    for (table, list) in [
        ("created", &mut state.created),
        ("deleted", &mut state.deleted),
    ] {
        let mut keys = tx.prepare(&format!("SELECT key FROM {table} ORDER BY seq"))?;
        for key in keys.query_map([], |row| row.get(0))? {
            list.push(key?);
        }
    }
    let mut calls = tx.prepare(
        "SELECT seq, pid, method, object, error, overlapping, view FROM calls ORDER BY seq",
    )?;
    for call in calls.query_map([], |row| {
        Ok(CallRecord {
            seq: row.get::<_, i64>(0)?.unsigned_abs(),
            pid: row.get(1)?,
            method: row.get(2)?,
            object: row.get(3)?,
            error: row.get(4)?,
            overlapping: row.get(5)?,
            view: row.get(6)?,
        })
    })? {
        state.calls.push(call?);
    }
    Ok(state)
}

fn write_all(tx: &Transaction<'_>, state: &State) -> rusqlite::Result<()> {
    tx.execute_batch(
        "DELETE FROM balancers; DELETE FROM created; DELETE FROM deleted; DELETE FROM calls;",
    )?;
    for (key, balancer) in &state.balancers {
        tx.execute(
            "INSERT INTO balancers (key, status, created_by, backends) VALUES (?1, ?2, ?3, ?4)",
            params![
                key,
                balancer.status.to_string(),
                balancer.created_by,
                balancer.backends.as_ref().map(ToString::to_string)
            ],
        )?;
    }
    for (table, list) in [("created", &state.created), ("deleted", &state.deleted)] {
        for key in list {
            tx.execute(&format!("INSERT INTO {table} (key) VALUES (?1)"), [key])?;
        }
    }
    for call in &state.calls {
        tx.execute(
            "INSERT INTO calls (seq, pid, method, object, error, overlapping, view) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                i64::try_from(call.seq).unwrap_or(i64::MAX),
                call.pid,
                call.method,
                call.object,
                call.error,
                call.overlapping,
                call.view
            ],
        )?;
    }
    Ok(())
}

/// One call's view of the database: the statements of [`Cloud`] in the call's transaction.
struct Sql<'a> {
    tx: &'a Transaction<'a>,
    path: &'a Path,
    /// The first statement that failed: the transaction is then rolled back.
    failed: Option<ProviderError>,
}

impl Sql<'_> {
    fn run<T>(&mut self, result: rusqlite::Result<T>) -> Result<T, ProviderError> {
        result.map_err(|e| {
            let e = error(self.path, "cannot be written", e);
            self.failed.get_or_insert_with(|| e.clone());
            e
        })
    }
}

impl Cloud for Sql<'_> {
    fn status(&mut self, key: &BalancerKey) -> Result<Option<String>, ProviderError> {
        let key = key.to_string();
        self.run(
            self.tx
                .prepare_cached("SELECT status FROM balancers WHERE key = ?1")
                .and_then(|mut s| s.query_row([key], |row| row.get(0)).optional()),
        )
    }

    fn create(&mut self, key: &BalancerKey, new: Written<'_>) -> Result<(), ProviderError> {
        let key = key.to_string();
        let result = self
            .tx
            .prepare_cached(
                "INSERT INTO balancers (key, status, created_by, backends) VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut s| {
                s.execute(params![key, new.status, crate::state::pid(), new.backends])
            })
            .and_then(|_| {
                self.tx
                    .prepare_cached("INSERT INTO created (key) VALUES (?1)")
                    .and_then(|mut s| s.execute([&key]))
            });
        self.run(result).map(drop)
    }

    fn set_status(&mut self, key: &BalancerKey, new: Written<'_>) -> Result<bool, ProviderError> {
        let key = key.to_string();
        let updated = self.run(
            self.tx
                .prepare_cached("UPDATE balancers SET status = ?2, backends = ?3 WHERE key = ?1")
                .and_then(|mut s| s.execute(params![key, new.status, new.backends])),
        )?;
        Ok(updated > 0)
    }

    fn delete(&mut self, key: &BalancerKey) -> Result<(), ProviderError> {
        let key = key.to_string();
        let result = self
            .tx
            .prepare_cached("DELETE FROM balancers WHERE key = ?1")
            .and_then(|mut s| s.execute([&key]))
            .and_then(|removed| {
                if removed == 0 {
                    return Ok(0);
                }
                self.tx
                    .prepare_cached("INSERT INTO deleted (key) VALUES (?1)")
                    .and_then(|mut s| s.execute([&key]))
            });
        self.run(result).map(drop)
    }

    fn record(&mut self, call: Call<'_>) -> Result<(), ProviderError> {
        let (method, object) = (call.method.name(call.key.kind), call.key.object());
        let result = self
            .tx
            .prepare_cached(
                "INSERT INTO calls (pid, method, object, error, overlapping, view) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                let pid = crate::state::pid();
                s.execute(params![pid, method, object, call.error, call.overlapping, call.view])
            });
        self.run(result).map(drop)
    }
}

#[cfg(test)]
mod tests;
