//! What re-triggers the one policy: one function per watched kind. Every answer is the same
//! key, the policy's name.

use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use mcp_interface::api::cluster::Cluster;
use mcp_interface::api::policy::ClusterPropagationPolicy;

use super::{POLICY_NAME, policy_key};
use crate::cache::Change;

/// The mappers read nothing but the change.
#[derive(Clone, Copy)]
pub struct Mappers;

type Request = Option<ObjectRef<ClusterPropagationPolicy>>;

impl Mappers {
    /// A Cluster created, deleted, or starting (or stopping) deletion changes the placement.
    pub fn cluster(&self, change: &Change<'_, Cluster>) -> Request {
        change.deletion_changed().then(policy_key)
    }

    /// Our policy created, deleted, or changed in spec or deletion state (an edit is put back).
    pub fn policy(&self, change: &Change<'_, ClusterPropagationPolicy>) -> Request {
        let ours = change.object().name_any() == POLICY_NAME;
        (ours && (change.changed(|old, new| old.spec != new.spec) || change.deletion_changed()))
            .then(policy_key)
    }
}
