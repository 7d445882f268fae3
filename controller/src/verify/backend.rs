//! What the suite runs against: the two kinds of balancer ([`Kind`]: their objects, statuses and
//! methods) and the [`Backend`]s answering calls for them, the loaded provider or the in-memory
//! [`Model`] of a provider that honours the contract (for `--dry-run` and the unit tests).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Mutex;

use k8s_openapi::api::core::v1::LoadBalancerStatus;
use k8s_openapi::api::networking::v1::IngressLoadBalancerStatus;
use mcp_interface::api::networking::{MultiClusterIngress, MultiClusterService};
use mcp_interface::backends::Backends;
use mcp_loader::{CallError, Encoded, Method, ObjectKind};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::objects::{self, Shape};
use super::view;
use crate::key::ObjectKey;

/// One kind of balancer: its objects, statuses and methods.
pub(crate) trait Kind: 'static {
    type Object: Clone + Debug + Serialize + DeserializeOwned + Send + Sync + kube::Resource;
    type Status: Clone + Debug + Default + PartialEq + Serialize + Send + Sync;
    /// The capability's name, as `inspect` prints it.
    const CAPABILITY: &'static str;
    /// get, ensure, update, ensure_deleted.
    const METHODS: [Method; 4];
    fn shapes(namespace: &str) -> serde_json::Result<Vec<Shape<Self::Object>>>;
    /// The object after a user changed its spec (what `update` receives).
    fn changed(object: &Self::Object) -> serde_json::Result<Self::Object>;
    /// `namespace/name` of `object`, as calls and problems name it.
    fn key(object: &Self::Object) -> String {
        ObjectKey::of(object).to_string()
    }
    /// The backend view behind `object` (see `view.rs`); `scaled`: after its backends changed.
    fn backends(object: &Self::Object, scaled: bool) -> Backends;
}

pub(crate) struct Ingress;
pub(crate) struct Service;

impl Kind for Ingress {
    type Object = MultiClusterIngress;
    type Status = IngressLoadBalancerStatus;
    const CAPABILITY: &'static str = "multiclusteringress";
    const METHODS: [Method; 4] = [
        Method::MciGet,
        Method::MciEnsure,
        Method::MciUpdate,
        Method::MciEnsureDeleted,
    ];
    fn shapes(namespace: &str) -> serde_json::Result<Vec<Shape<MultiClusterIngress>>> {
        objects::ingresses(namespace)
    }
    fn changed(object: &MultiClusterIngress) -> serde_json::Result<MultiClusterIngress> {
        objects::changed_ingress(object)
    }
    fn backends(object: &MultiClusterIngress, scaled: bool) -> Backends {
        view::of_ingress(object, scaled)
    }
}

impl Kind for Service {
    type Object = MultiClusterService;
    type Status = LoadBalancerStatus;
    const CAPABILITY: &'static str = "multiclusterservice";
    const METHODS: [Method; 4] = [
        Method::McsGet,
        Method::McsEnsure,
        Method::McsUpdate,
        Method::McsEnsureDeleted,
    ];
    fn shapes(namespace: &str) -> serde_json::Result<Vec<Shape<MultiClusterService>>> {
        objects::services(namespace)
    }
    fn changed(object: &MultiClusterService) -> serde_json::Result<MultiClusterService> {
        objects::changed_service(object)
    }
    fn backends(object: &MultiClusterService, scaled: bool) -> Backends {
        view::of_service(object, scaled)
    }
}

/// Something that answers provider calls for one kind of balancer. Each call is sent the
/// object's backend view ([`Kind::backends`]) when the backend takes one.
pub(crate) trait Backend<K: Kind>: Sync {
    /// Whether it takes the backend view (interface 1.2).
    fn takes_backends(&self) -> bool;
    async fn get(&self, object: &K::Object) -> Result<Option<K::Status>, CallError>;
    async fn ensure(&self, object: &K::Object) -> Result<K::Status, CallError>;
    async fn update(&self, object: &K::Object) -> Result<K::Status, CallError>;
    /// `update` of an unchanged object whose backends changed (the scaled view).
    async fn update_backends(&self, object: &K::Object) -> Result<K::Status, CallError>;
    async fn ensure_deleted(&self, object: &K::Object) -> Result<(), CallError>;
}

/// What the loaded provider is sent about `object`: with its view when it takes one.
fn payload<K: Kind>(
    provider: &mcp_loader::Provider,
    object: &K::Object,
    scaled: bool,
) -> Encoded<K::Object>
where
    K::Object: ObjectKind,
{
    if provider.wants_backends() {
        Encoded::with_backends(object, &K::backends(object, scaled))
    } else {
        Encoded::new(object)
    }
}

/// Answers a kind's calls with the loaded provider's methods for its objects.
impl<K> Backend<K> for mcp_loader::Provider
where
    K: Kind,
    K::Object: ObjectKind<Status = K::Status>,
{
    fn takes_backends(&self) -> bool {
        self.wants_backends()
    }
    async fn get(&self, object: &K::Object) -> Result<Option<K::Status>, CallError> {
        self.get(&payload::<K>(self, object, false)).await
    }
    async fn ensure(&self, object: &K::Object) -> Result<K::Status, CallError> {
        let applied = self.ensure(&payload::<K>(self, object, false)).await?;
        Ok(applied.status)
    }
    async fn update(&self, object: &K::Object) -> Result<K::Status, CallError> {
        let applied = self.update(&payload::<K>(self, object, false)).await?;
        Ok(applied.status)
    }
    async fn update_backends(&self, object: &K::Object) -> Result<K::Status, CallError> {
        let applied = self.update(&payload::<K>(self, object, true)).await?;
        Ok(applied.status)
    }
    async fn ensure_deleted(&self, object: &K::Object) -> Result<(), CallError> {
        self.ensure_deleted(&payload::<K>(self, object, false))
            .await
    }
}

/// A provider that honours the contract, in memory, recording every call: what `--dry-run`
/// runs the suite against to list the calls a real run makes.
pub(crate) struct Model<K: Kind> {
    calls: Mutex<Vec<(Method, String)>>,
    balancers: Mutex<BTreeMap<String, K::Status>>,
}

impl<K: Kind> Default for Model<K> {
    fn default() -> Self {
        Model {
            calls: Mutex::new(Vec::new()),
            balancers: Mutex::new(BTreeMap::new()),
        }
    }
}

impl<K: Kind> Model<K> {
    fn record(&self, method: usize, object: &K::Object) -> String {
        let key = K::key(object);
        lock(&self.calls).push((K::METHODS[method], key.clone()));
        key
    }

    /// The calls made so far: method and `namespace/name`.
    pub(crate) fn calls(&self) -> Vec<(Method, String)> {
        lock(&self.calls).clone()
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl<K: Kind> Backend<K> for Model<K> {
    fn takes_backends(&self) -> bool {
        true
    }
    async fn update_backends(&self, object: &K::Object) -> Result<K::Status, CallError> {
        Backend::<K>::update(self, object).await
    }
    async fn get(&self, object: &K::Object) -> Result<Option<K::Status>, CallError> {
        let key = self.record(0, object);
        Ok(lock(&self.balancers).get(&key).cloned())
    }
    async fn ensure(&self, object: &K::Object) -> Result<K::Status, CallError> {
        let key = self.record(1, object);
        let status = K::Status::default();
        lock(&self.balancers).insert(key, status.clone());
        Ok(status)
    }
    async fn update(&self, object: &K::Object) -> Result<K::Status, CallError> {
        let key = self.record(2, object);
        match lock(&self.balancers).get(&key) {
            Some(status) => Ok(status.clone()),
            None => Err(CallError::Provider {
                provider: "model".into(),
                method: K::METHODS[2],
                error: mcp_interface::ProviderError::not_found(format!("no balancer {key}")),
            }),
        }
    }
    async fn ensure_deleted(&self, object: &K::Object) -> Result<(), CallError> {
        let key = self.record(3, object);
        lock(&self.balancers).remove(&key);
        Ok(())
    }
}
