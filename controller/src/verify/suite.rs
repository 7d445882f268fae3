//! The contract checks, written once for both kinds of balancer and run against a [`Backend`]:
//! the loaded provider, or (for `--dry-run` and the unit tests) an in-memory [`Model`] of a
//! provider that honours the contract.

use std::collections::BTreeMap;
use std::sync::Mutex;

use futures::future::join_all;
use mcp_interface::ErrorKind;
use mcp_loader::CallError;
use serde::Serialize;

use super::Plan;
use super::objects;
use super::report::{Outcome, Row, failed};

pub(crate) use super::backend::{Backend, Ingress, Kind, Model, Service, lock};

/// Balancers a run created and has not seen deleted, by `namespace/name`.
struct Created<O> {
    objects: Mutex<BTreeMap<String, O>>,
}

impl<O: Clone> Created<O> {
    fn add(&self, key: String, object: &O) {
        lock(&self.objects).insert(key, object.clone());
    }
    fn remove(&self, key: &str) {
        lock(&self.objects).remove(key);
    }
    fn all(&self) -> Vec<O> {
        lock(&self.objects).values().cloned().collect()
    }
}

const GET_UNKNOWN: &str = "get of an unknown object is absent";
const ENSURE: &str = "ensure creates it with a valid status";
const GET_AFTER_ENSURE: &str = "get after ensure agrees with ensure";
const UPDATE: &str = "update of the changed object returns a valid status";
const GET_AFTER_UPDATE: &str = "get after update agrees with update";
const UPDATE_BACKENDS: &str = "update after only the backends changed returns a valid status";
const DELETE: &str = "ensure_deleted deletes it";
const DELETE_AGAIN: &str = "ensure_deleted of a deleted balancer succeeds";
const GET_AFTER_DELETE: &str = "get after ensure_deleted is absent";
const UPDATE_MISSING: &str = "update of a missing balancer is not_found (or re-creates it)";
const PARALLEL: &str = "calls for different objects in parallel";

/// The checks, in order, for `--dry-run` and the docs.
pub(crate) const CHECKS: [&str; 11] = [
    GET_UNKNOWN,
    ENSURE,
    GET_AFTER_ENSURE,
    UPDATE,
    GET_AFTER_UPDATE,
    UPDATE_BACKENDS,
    DELETE,
    DELETE_AGAIN,
    GET_AFTER_DELETE,
    UPDATE_MISSING,
    PARALLEL,
];

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("<{e}>"))
}

/// Runs every check for the capability `K` and returns a row per check.
pub(crate) async fn run<K: Kind, B: Backend<K>>(
    backend: &B,
    plan: &Plan,
) -> serde_json::Result<Vec<Row>> {
    let created = Created {
        objects: Mutex::new(BTreeMap::new()),
    };
    let mut rows = Vec::new();
    for shape in K::shapes(&plan.namespace)? {
        let changed = K::changed(&shape.object)?;
        let results = lifecycle::<K, B>(backend, &shape.object, &changed, &created).await;
        rows.extend(results.into_iter().map(|(check, outcome, detail)| Row {
            capability: K::CAPABILITY,
            object: shape.shape.to_owned(),
            check,
            outcome,
            detail,
        }));
    }
    let (outcome, detail) = parallel::<K, B>(backend, plan, &created).await?;
    rows.push(Row {
        capability: K::CAPABILITY,
        object: format!("{} objects", plan.parallel),
        check: PARALLEL,
        outcome,
        detail,
    });
    if plan.cleanup
        && let Some(row) = super::cleanup::leftovers::<K, B>(backend, created.all()).await
    {
        rows.push(row);
    }
    Ok(rows)
}

type Check = (&'static str, Outcome, String);

fn pass(check: &'static str, detail: impl Into<String>) -> Check {
    (check, Outcome::Pass, detail.into())
}

fn fail(check: &'static str, detail: impl Into<String>) -> Check {
    (check, Outcome::Fail, detail.into())
}

/// The life of one balancer: every check but the parallel one, in order. A check whose
/// precondition failed is skipped, saying which.
async fn lifecycle<K: Kind, B: Backend<K>>(
    backend: &B,
    object: &K::Object,
    changed: &K::Object,
    created: &Created<K::Object>,
) -> Vec<Check> {
    let key = K::key(object);
    let mut out = Vec::new();
    let got = backend.get(object).await;
    if hung(&mut out, GET_UNKNOWN, &got) {
        return out;
    }
    out.push(match got {
        Ok(None) => pass(GET_UNKNOWN, "None"),
        Ok(Some(status)) => fail(
            GET_UNKNOWN,
            format!(
                "returned a balancer ({}) for an object never ensured: left over from an earlier run? Run `verify --cleanup` with the same flags",
                json(&status)
            ),
        ),
        Err(e) if e.kind() == ErrorKind::NotFound => fail(
            GET_UNKNOWN,
            format!(
                "{}; `get` must return Ok(None) when the balancer does not exist, not an error",
                failed(&e)
            ),
        ),
        Err(e) => fail(GET_UNKNOWN, failed(&e)),
    });

    let ensured = match backend.ensure(object).await {
        Ok(status) => {
            created.add(key.clone(), object);
            out.push(pass(ENSURE, json(&status)));
            status
        }
        Err(e) => {
            // It may exist anyway (an invalid status, or a failure after creating it).
            created.add(key.clone(), object);
            out.push(fail(ENSURE, failed(&e)));
            skip_rest(&mut out, ENSURE);
            return out;
        }
    };
    let got = backend.get(object).await;
    if hung(&mut out, GET_AFTER_ENSURE, &got) {
        return out;
    }
    out.push(agree(GET_AFTER_ENSURE, "ensure", &ensured, got));

    let update = backend.update(changed).await;
    if hung(&mut out, UPDATE, &update) {
        // It may have changed the balancer; the clean-up deletes it once it can.
        created.add(key.clone(), changed);
        return out;
    }
    match update {
        Ok(updated) => {
            out.push(pass(UPDATE, json(&updated)));
            let got = backend.get(changed).await;
            if hung(&mut out, GET_AFTER_UPDATE, &got) {
                return out;
            }
            out.push(agree(GET_AFTER_UPDATE, "update", &updated, got));
            if !backend.takes_backends() {
                let why = "the provider does not take the backend view (interface 1.2)";
                out.push((UPDATE_BACKENDS, Outcome::Skip, why.to_owned()));
            } else {
                // Endpoints added in one member, the other blocked: no change to the object.
                let update = backend.update_backends(changed).await;
                if hung(&mut out, UPDATE_BACKENDS, &update) {
                    return out;
                }
                out.push(match update {
                    Ok(status) => pass(UPDATE_BACKENDS, json(&status)),
                    Err(e) => fail(UPDATE_BACKENDS, failed(&e)),
                });
            }
        }
        Err(e) => {
            out.push(fail(UPDATE, failed(&e)));
            for check in [GET_AFTER_UPDATE, UPDATE_BACKENDS] {
                out.push((check, Outcome::Skip, format!("`{UPDATE}` failed")));
            }
        }
    }

    match backend.ensure_deleted(changed).await {
        Ok(()) => {
            created.remove(&key);
            out.push(pass(DELETE, "Ok"));
        }
        Err(e) => {
            out.push(fail(DELETE, failed(&e)));
            skip_rest(&mut out, DELETE);
            return out;
        }
    }
    let again = backend.ensure_deleted(changed).await;
    if hung(&mut out, DELETE_AGAIN, &again) {
        return out;
    }
    out.push(match again {
        Ok(()) => pass(DELETE_AGAIN, "Ok"),
        Err(e) if e.kind() == ErrorKind::NotFound => fail(
            DELETE_AGAIN,
            format!(
                "{}; ensure_deleted must succeed when the balancer is already gone (the controller retries it after a timeout)",
                failed(&e)
            ),
        ),
        Err(e) => fail(DELETE_AGAIN, failed(&e)),
    });
    let got = backend.get(changed).await;
    if hung(&mut out, GET_AFTER_DELETE, &got) {
        return out;
    }
    out.push(match got {
        Ok(None) => pass(GET_AFTER_DELETE, "None"),
        Ok(Some(status)) => fail(
            GET_AFTER_DELETE,
            format!(
                "still returns a balancer after ensure_deleted: {}",
                json(&status)
            ),
        ),
        Err(e) => fail(GET_AFTER_DELETE, failed(&e)),
    });
    out.push(match backend.update(changed).await {
        Err(e) if e.kind() == ErrorKind::NotFound => pass(UPDATE_MISSING, "not_found"),
        Ok(status) => {
            // It re-created the balancer: allowed, but it must be cleaned up.
            created.add(key, changed);
            pass(UPDATE_MISSING, format!("re-created it: {}", json(&status)))
        }
        Err(e) => fail(
            UPDATE_MISSING,
            format!(
                "{}; a balancer that does not exist is ProviderError::not_found (the kind labels the error metric)",
                failed(&e)
            ),
        ),
    });
    out
}

/// Marks every check after `failed` in the lifecycle as skipped.
fn skip_rest(out: &mut Vec<Check>, failed: &'static str) {
    skip_after(out, failed, &format!("`{failed}` failed"));
}

/// Marks every check after `check` in the lifecycle as skipped, saying `why`.
fn skip_after(out: &mut Vec<Check>, check: &'static str, why: &str) {
    let position = CHECKS.iter().position(|c| *c == check).unwrap_or(0);
    for check in &CHECKS[position + 1..CHECKS.len() - 1] {
        out.push((check, Outcome::Skip, why.to_owned()));
    }
}

/// Whether `result` is a call still running in the provider (it outlived the call timeout, or an
/// earlier one about the object did). Then `check` fails and the object's remaining checks are
/// skipped: the controller never calls about an object beside such a call.
fn hung<T>(out: &mut Vec<Check>, check: &'static str, result: &Result<T, CallError>) -> bool {
    let Err(error @ (CallError::Timeout { .. } | CallError::Busy { .. })) = result else {
        return false;
    };
    out.push(fail(check, failed(error)));
    skip_after(
        out,
        check,
        &format!("`{check}` did not return; no call about this object is made while it runs"),
    );
    true
}

fn agree<S: PartialEq + Serialize>(
    check: &'static str,
    what: &str,
    expected: &S,
    got: Result<Option<S>, CallError>,
) -> Check {
    match got {
        Ok(Some(status)) if &status == expected => pass(check, json(&status)),
        Ok(Some(status)) => fail(
            check,
            format!(
                "{what} returned {} but get returns {}",
                json(expected),
                json(&status)
            ),
        ),
        Ok(None) => fail(check, format!("get says there is no balancer after {what}")),
        Err(e) => fail(check, failed(&e)),
    }
}

/// `plan.parallel` different objects at once: ensure all, get all (each must agree with its own
/// ensure: no state shared between objects), ensure_deleted all, get all (absent).
async fn parallel<K: Kind, B: Backend<K>>(
    backend: &B,
    plan: &Plan,
    created: &Created<K::Object>,
) -> serde_json::Result<(Outcome, String)> {
    let shapes = K::shapes(&plan.namespace)?;
    let mut objects = Vec::with_capacity(plan.parallel);
    for i in 0..plan.parallel {
        let shape = &shapes[i % shapes.len()];
        objects.push(objects::renamed(&shape.object, &format!("p{i}"))?);
    }
    let mut problems = Vec::new();
    let ensured = join_all(objects.iter().map(|o| backend.ensure(o))).await;
    for o in &objects {
        created.add(K::key(o), o);
    }
    let got = join_all(objects.iter().map(|o| backend.get(o))).await;
    for ((o, ensured), got) in objects.iter().zip(&ensured).zip(got) {
        match ensured {
            Err(e) => problems.push(format!("ensure {}: {}", K::key(o), failed(e))),
            Ok(status) => {
                if let (_, Outcome::Fail, detail) = agree("", "ensure", status, got) {
                    problems.push(format!("{}: {detail}", K::key(o)));
                }
            }
        }
    }
    let deleted = join_all(objects.iter().map(|o| backend.ensure_deleted(o))).await;
    for (o, deleted) in objects.iter().zip(deleted) {
        match deleted {
            Ok(()) => created.remove(&K::key(o)),
            Err(e) => problems.push(format!("ensure_deleted {}: {}", K::key(o), failed(&e))),
        }
    }
    let after = join_all(objects.iter().map(|o| backend.get(o))).await;
    for (o, after) in objects.iter().zip(after) {
        match after {
            Ok(None) => {}
            Ok(Some(_)) => {
                problems.push(format!("{} still exists after ensure_deleted", K::key(o)))
            }
            Err(e) => problems.push(format!("get {}: {}", K::key(o), failed(&e))),
        }
    }
    Ok(if problems.is_empty() {
        (
            Outcome::Pass,
            format!(
                "{} objects: ensure, get, ensure_deleted, get at once",
                plan.parallel
            ),
        )
    } else {
        (Outcome::Fail, problems.join("; "))
    })
}
