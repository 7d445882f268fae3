//! Deleting what a run created: the balancers failed checks left behind (at the end of a run),
//! and every object a run could have created (`verify --cleanup`).

use futures::future::join_all;
use mcp_loader::CallError;

use super::Plan;
use super::backend::{Backend, Kind};
use super::objects;
use super::report::{CLEANUP, Outcome, Row, failed};

/// Deletes `leftovers` (balancers failed checks left behind); the clean-up row, if there were
/// any. A call about one of them still running in the provider makes it a skip, not a failure:
/// run `verify --cleanup` later.
pub(crate) async fn leftovers<K: Kind, B: Backend<K>>(
    backend: &B,
    leftovers: Vec<K::Object>,
) -> Option<Row> {
    if leftovers.is_empty() {
        return None;
    }
    let results = join_all(leftovers.iter().map(|o| backend.ensure_deleted(o))).await;
    let (mut errors, mut running) = (Vec::new(), Vec::new());
    for (o, r) in leftovers.iter().zip(results) {
        match r {
            Ok(()) => {}
            Err(e @ CallError::Busy { .. }) => {
                running.push(format!("{}: {}", K::key(o), failed(&e)))
            }
            Err(e) => errors.push(format!("{}: {}", K::key(o), failed(&e))),
        }
    }
    let (outcome, detail) = if !running.is_empty() && errors.is_empty() {
        (
            Outcome::Skip,
            format!(
                "a call about these objects is still running; run `verify --cleanup` with the same flags once it has returned: {}",
                running.join("; ")
            ),
        )
    } else if errors.is_empty() {
        (
            Outcome::Pass,
            format!(
                "deleted {} balancer(s) left by failed checks",
                leftovers.len()
            ),
        )
    } else {
        errors.extend(running);
        (Outcome::Fail, errors.join("; "))
    };
    Some(Row {
        capability: K::CAPABILITY,
        object: "-".to_owned(),
        check: CLEANUP,
        outcome,
        detail,
    })
}

/// Calls `ensure_deleted` for every object a run could have created (`verify --cleanup`).
pub(crate) async fn cleanup<K: Kind, B: Backend<K>>(
    backend: &B,
    plan: &Plan,
) -> serde_json::Result<Vec<Row>> {
    let shapes = K::shapes(&plan.namespace)?;
    let mut objects: Vec<K::Object> = shapes.iter().map(|s| s.object.clone()).collect();
    for i in 0..plan.parallel {
        objects.push(objects::renamed(
            &shapes[i % shapes.len()].object,
            &format!("p{i}"),
        )?);
    }
    let results = join_all(objects.iter().map(|o| backend.ensure_deleted(o))).await;
    Ok(objects
        .iter()
        .zip(results)
        .map(|(o, r)| Row {
            capability: K::CAPABILITY,
            object: K::key(o),
            check: CLEANUP,
            outcome: if r.is_ok() {
                Outcome::Pass
            } else {
                Outcome::Fail
            },
            detail: r.map_or_else(|e| failed(&e), |()| "Ok".to_owned()),
        })
        .collect())
}
