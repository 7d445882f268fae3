//! The suite against in-memory providers: one that honours the contract passes every check, and
//! each way of breaking the contract fails exactly the checks that cover it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use k8s_openapi::api::networking::v1::{IngressLoadBalancerIngress, IngressLoadBalancerStatus};
use mcp_interface::ProviderError;
use mcp_interface::api::networking::MultiClusterIngress;
use mcp_loader::{CallError, Method};

use super::Plan;
use super::report::{Outcome, Row};
use super::suite::{self, Backend, Ingress, Kind, Model, Service};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Defect {
    None,
    GetOfUnknownIsNotFound,
    DeleteOfMissingIsNotFound,
    OneBalancerForAll,
    UpdateOfMissingIsRetryable,
    EnsureFails,
    /// `update` fails when the backends changed but the object did not.
    NewBackendsFail,
}

/// An ingress provider with one defect; statuses are hostnames made from the object's name.
struct Quirky {
    defect: Defect,
    balancers: Mutex<BTreeMap<String, IngressLoadBalancerStatus>>,
    last: Mutex<Option<IngressLoadBalancerStatus>>,
}

impl Quirky {
    fn new(defect: Defect) -> Self {
        Quirky {
            defect,
            balancers: Mutex::default(),
            last: Mutex::default(),
        }
    }

    fn error(method: Method, error: ProviderError) -> CallError {
        CallError::Provider {
            provider: "quirky".into(),
            method,
            error,
        }
    }

    fn status(mci: &MultiClusterIngress) -> IngressLoadBalancerStatus {
        IngressLoadBalancerStatus {
            ingress: Some(vec![IngressLoadBalancerIngress {
                hostname: Some(format!(
                    "{}.lb.test",
                    mci.metadata.name.as_deref().unwrap_or_default()
                )),
                ..Default::default()
            }]),
        }
    }
}

impl Backend<Ingress> for Quirky {
    fn takes_backends(&self) -> bool {
        true
    }

    async fn update_backends(
        &self,
        mci: &MultiClusterIngress,
    ) -> Result<IngressLoadBalancerStatus, CallError> {
        if self.defect == Defect::NewBackendsFail {
            let error = ProviderError::permanent("unexpected endpoints");
            return Err(Self::error(Method::MciUpdate, error));
        }
        self.update(mci).await
    }

    async fn get(
        &self,
        mci: &MultiClusterIngress,
    ) -> Result<Option<IngressLoadBalancerStatus>, CallError> {
        let found = self
            .balancers
            .lock()
            .unwrap()
            .get(&Ingress::key(mci))
            .cloned();
        match (found, self.defect) {
            (None, Defect::GetOfUnknownIsNotFound) => Err(Self::error(
                Method::MciGet,
                ProviderError::not_found("no such balancer"),
            )),
            (Some(_), Defect::OneBalancerForAll) => Ok(self.last.lock().unwrap().clone()),
            (found, _) => Ok(found),
        }
    }

    async fn ensure(
        &self,
        mci: &MultiClusterIngress,
    ) -> Result<IngressLoadBalancerStatus, CallError> {
        if self.defect == Defect::EnsureFails {
            return Err(Self::error(
                Method::MciEnsure,
                ProviderError::permanent("quota exceeded"),
            ));
        }
        let status = Self::status(mci);
        self.balancers
            .lock()
            .unwrap()
            .insert(Ingress::key(mci), status.clone());
        *self.last.lock().unwrap() = Some(status.clone());
        Ok(status)
    }

    async fn update(
        &self,
        mci: &MultiClusterIngress,
    ) -> Result<IngressLoadBalancerStatus, CallError> {
        if !self
            .balancers
            .lock()
            .unwrap()
            .contains_key(&Ingress::key(mci))
        {
            let error = match self.defect {
                Defect::UpdateOfMissingIsRetryable => ProviderError::retryable("try again"),
                _ => ProviderError::not_found("no such balancer"),
            };
            return Err(Self::error(Method::MciUpdate, error));
        }
        self.ensure(mci).await
    }

    async fn ensure_deleted(&self, mci: &MultiClusterIngress) -> Result<(), CallError> {
        let removed = self.balancers.lock().unwrap().remove(&Ingress::key(mci));
        if removed.is_none() && self.defect == Defect::DeleteOfMissingIsNotFound {
            return Err(Self::error(
                Method::MciEnsureDeleted,
                ProviderError::not_found("no such balancer"),
            ));
        }
        Ok(())
    }
}

fn plan() -> Plan {
    Plan {
        namespace: "verify-test".into(),
        parallel: 6,
        cleanup: true,
    }
}

fn run(defect: Defect) -> (Vec<Row>, Quirky) {
    let quirky = Quirky::new(defect);
    let rows = futures::executor::block_on(suite::run::<Ingress, _>(&quirky, &plan())).unwrap();
    (rows, quirky)
}

fn failing(rows: &[Row]) -> BTreeSet<&'static str> {
    rows.iter()
        .filter(|r| r.outcome == Outcome::Fail)
        .map(|r| r.check)
        .collect()
}

#[test]
fn a_provider_that_honours_the_contract_passes_every_check() {
    let (rows, quirky) = run(Defect::None);
    assert!(failing(&rows).is_empty(), "{rows:#?}");
    // Every check ran for every shape, plus the parallel check.
    let shapes = Ingress::shapes("verify-test").unwrap().len();
    assert_eq!(rows.len(), shapes * (suite::CHECKS.len() - 1) + 1);
    assert!(rows.iter().all(|r| r.outcome == Outcome::Pass));
    assert!(
        quirky.balancers.lock().unwrap().is_empty(),
        "nothing left behind"
    );
}

#[test]
fn each_defect_fails_the_checks_that_cover_it() {
    let cases = [
        (
            Defect::GetOfUnknownIsNotFound,
            vec![
                "get of an unknown object is absent",
                "get after ensure_deleted is absent",
                "calls for different objects in parallel",
            ],
        ),
        (
            Defect::DeleteOfMissingIsNotFound,
            vec!["ensure_deleted of a deleted balancer succeeds"],
        ),
        (
            Defect::OneBalancerForAll,
            vec!["calls for different objects in parallel"],
        ),
        (
            Defect::UpdateOfMissingIsRetryable,
            vec!["update of a missing balancer is not_found (or re-creates it)"],
        ),
        (
            Defect::EnsureFails,
            vec![
                "ensure creates it with a valid status",
                "calls for different objects in parallel",
            ],
        ),
        (
            Defect::NewBackendsFail,
            vec!["update after only the backends changed returns a valid status"],
        ),
    ];
    for (defect, expected) in cases {
        let (rows, _) = run(defect);
        let expected: BTreeSet<&str> = expected.into_iter().collect();
        assert_eq!(failing(&rows), expected, "{defect:?}: {rows:#?}");
    }
}

#[test]
fn failures_say_what_the_contract_expects() {
    let (rows, _) = run(Defect::GetOfUnknownIsNotFound);
    let row = rows
        .iter()
        .find(|r| r.check == "get of an unknown object is absent")
        .unwrap();
    assert!(
        row.detail.contains("failed (not_found): no such balancer"),
        "{}",
        row.detail
    );
    assert!(
        row.detail.contains("must return Ok(None)"),
        "{}",
        row.detail
    );

    let (rows, _) = run(Defect::EnsureFails);
    let skipped = rows.iter().filter(|r| r.outcome == Outcome::Skip).count();
    let shapes = Ingress::shapes("verify-test").unwrap().len();
    // After a failed ensure, the 8 checks that need the balancer are skipped, per shape.
    assert_eq!(skipped, shapes * 8, "{rows:#?}");
    // The run deleted what the failed ensures may have left.
    let cleanup = rows.last().unwrap();
    assert!(cleanup.check.starts_with("clean-up"), "{cleanup:?}");
    assert_eq!(cleanup.outcome, Outcome::Pass);
}

#[test]
fn the_dry_run_model_lists_every_call_of_a_passing_run() {
    let model = Model::<Service>::default();
    let rows = futures::executor::block_on(suite::run::<Service, _>(&model, &plan())).unwrap();
    assert!(failing(&rows).is_empty(), "{rows:#?}");
    let calls = model.calls();
    let shapes = Service::shapes("verify-test").unwrap().len();
    // 10 calls per shape (the model takes the backend view), 4 per object of the parallel
    // check.
    assert_eq!(calls.len(), shapes * 10 + plan().parallel * 4);
    assert_eq!(
        calls[0],
        (
            Method::McsGet,
            "verify-test/mcp-verify-single-port".to_owned()
        )
    );
    assert!(
        calls
            .iter()
            .any(|(m, o)| *m == Method::McsEnsureDeleted && o.ends_with("-p5"))
    );
}

#[test]
fn cleanup_deletes_every_object_a_run_can_create() {
    let model = Model::<Ingress>::default();
    let rows = futures::executor::block_on(super::cleanup::cleanup::<Ingress, _>(&model, &plan()))
        .unwrap();
    let shapes = Ingress::shapes("verify-test").unwrap().len();
    assert_eq!(rows.len(), shapes + plan().parallel);
    assert!(
        model
            .calls()
            .iter()
            .all(|(m, _)| *m == Method::MciEnsureDeleted)
    );
}
