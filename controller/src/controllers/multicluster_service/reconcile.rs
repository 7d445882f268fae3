//! Reconcile one MultiClusterService: the shared balancer reconcile (`controllers/balancer.rs`),
//! with what is the MCS's own: the balancer goes also when `LoadBalancer` leaves `spec.types`,
//! and then `get` is asked first.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{LoadBalancerIngress, LoadBalancerStatus};
use kube::runtime::controller::Action;
use mcp_interface::api::networking::MultiClusterService;

use super::{EVENTS, FINALIZER, wants_load_balancer};
use crate::context::Context;
use crate::controllers::balancer::{self, Balanced};
use crate::error::Result;
use crate::events::Reporter;

impl Balanced for MultiClusterService {
    type Address = LoadBalancerIngress;
    const EVENTS: Reporter = EVENTS;
    const FINALIZER: &'static str = FINALIZER;
    const LIFECYCLE_EVENTS: bool = false;
    const DELETE_CALL: &'static str = "DeleteLoadBalancer";

    fn load_balancer(&self) -> Option<&LoadBalancerStatus> {
        self.status.as_ref().and_then(|s| s.load_balancer.as_ref())
    }
    fn addresses(status: &LoadBalancerStatus) -> &[LoadBalancerIngress] {
        status.ingress.as_deref().unwrap_or_default()
    }
    fn unwanted(&self) -> bool {
        self.metadata.deletion_timestamp.is_some() || !wants_load_balancer(self)
    }
    /// As the Go original: while `spec.types` still wants a balancer (the MCS is being
    /// deleted), `ensure_deleted` is called whatever `get` would say (a provider whose `get`
    /// lags behind a create must not leak the balancer); only when `LoadBalancer` was dropped
    /// from `types` is `get` asked first, so that an MCS that never had one costs no deletion.
    fn delete_without_get(&self) -> bool {
        wants_load_balancer(self)
    }
}

pub async fn reconcile(mcs: Arc<MultiClusterService>, ctx: Arc<Context>) -> Result<Action> {
    balancer::reconcile(mcs, &ctx).await
}
