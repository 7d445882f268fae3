//! The writes the controllers share: finalizers and status fields with merge patches, and deletes
//! that cannot hit a newer object of the same name.

use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::{Resource, ResourceExt};
use serde::Serialize;

use crate::cache::{Cacheable, trim};
use crate::error::{Result, is_already_exists, is_not_found};

/// The API of `obj`'s namespace.
pub fn namespaced_api<K>(client: &kube::Client, obj: &K) -> Api<K>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    Api::namespaced(
        client.clone(),
        obj.meta().namespace.as_deref().unwrap_or_default(),
    )
}

pub fn has_finalizer<K: Resource>(obj: &K, finalizer: &str) -> bool {
    obj.finalizers().iter().any(|f| f == finalizer)
}

/// Adds `finalizer` to `obj` (see [`patch_finalizers`]); returns the object as written.
pub async fn add_finalizer<K>(api: &Api<K>, obj: &K, finalizer: &str) -> Result<K>
where
    K: Cacheable,
{
    let mut finalizers = obj.finalizers().to_vec();
    finalizers.push(finalizer.to_owned());
    patch_finalizers(api, obj, finalizers).await
}

/// Removes `finalizer` from `obj` (see [`patch_finalizers`]); returns the object as written.
pub async fn remove_finalizer<K>(api: &Api<K>, obj: &K, finalizer: &str) -> Result<K>
where
    K: Cacheable,
{
    let remaining: Vec<String> = obj
        .finalizers()
        .iter()
        .filter(|f| *f != finalizer)
        .cloned()
        .collect();
    patch_finalizers(api, obj, remaining).await
}

/// Sets `obj`'s finalizer list with a merge patch that carries its resourceVersion as a
/// precondition: a concurrent change makes it fail with a conflict (and the object is retried),
/// it never clobbers. Returns the object as written.
pub async fn patch_finalizers<K>(api: &Api<K>, obj: &K, finalizers: Vec<String>) -> Result<K>
where
    K: Cacheable,
{
    let patch = serde_json::json!({
        "metadata": {
            "resourceVersion": obj.meta().resource_version,
            "finalizers": finalizers,
        }
    });
    let name = obj.meta().name.as_deref().unwrap_or_default();
    let written = api
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(as_cached(written))
}

/// `obj` as the caches keep it ([`trim`]): whether a reconcile goes on with the cached object
/// or with the one a write returned, the provider is given the same shape of object.
fn as_cached<K: Resource>(mut obj: K) -> K {
    trim(obj.meta_mut());
    obj
}

/// Writes the status fields in `fields` (a JSON object) with a merge patch on `/status`: the
/// other status fields, written by other controllers or by Karmada, are left as they are, so no
/// conflict can clobber them. A field whose value is empty (`null`, `[]`, `{}`, or an object of
/// only such values, like a load balancer status without addresses) is removed. The object the
/// API server returns is not read (see [`patch_status_returning`]).
pub async fn patch_status<K>(api: &Api<K>, name: &str, fields: serde_json::Value) -> Result<()>
where
    K: Cacheable,
{
    let patch = Patch::Merge(serde_json::json!({ "status": status_patch(fields) }));
    let request = kube::core::Request::new(api.resource_url())
        .patch_subresource("status", name, &PatchParams::default(), &patch)
        .map_err(kube::Error::BuildRequest)?;
    Ok(send_unread(api, request).await?)
}

/// [`patch_status`], returning the object as written.
pub async fn patch_status_returning<K>(
    api: &Api<K>,
    name: &str,
    fields: serde_json::Value,
) -> Result<K>
where
    K: Cacheable,
{
    let patch = serde_json::json!({ "status": status_patch(fields) });
    let written = api
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(as_cached(written))
}

/// A merge patch of `name`; the object the API server returns is not read.
pub async fn merge_patch<K: Resource + Clone>(
    api: &Api<K>,
    name: &str,
    patch: serde_json::Value,
) -> kube::Result<()> {
    let request = kube::core::Request::new(api.resource_url())
        .patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .map_err(kube::Error::BuildRequest)?;
    send_unread(api, request).await
}

/// Sends `request`; what the API server answers counts only by its status (an error status is
/// the error it describes), the object in it is not decoded.
async fn send_unread<K: Resource + Clone>(
    api: &Api<K>,
    request: http::Request<Vec<u8>>,
) -> kube::Result<()> {
    api.clone().into_client().request_text(request).await?;
    Ok(())
}

/// `fields` with every empty value replaced by `null`. A merge patch can only remove a field
/// with `null`: `{}` merges as "no change" (k8s-openapi omits `ingress: None`, so a status
/// without addresses serializes as `{}`), and an empty list would be stored as one.
fn status_patch(mut fields: serde_json::Value) -> serde_json::Value {
    if let Some(fields) = fields.as_object_mut() {
        for value in fields.values_mut() {
            if is_empty(value) {
                *value = serde_json::Value::Null;
            }
        }
    }
    fields
}

fn is_empty(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Null => true,
        serde_json::Value::Array(items) => items.is_empty(),
        serde_json::Value::Object(fields) => fields.values().all(is_empty),
        _ => false,
    }
}

/// Creates `obj`; `false` when an object of that name already exists (typically our own
/// earlier create that the cache has not shown yet: its event triggers another reconcile).
pub async fn create_unless_exists<K>(api: &Api<K>, obj: &K) -> Result<bool>
where
    K: Cacheable + Serialize,
{
    let request = kube::core::Request::new(api.resource_url())
        .create(
            &PostParams::default(),
            serde_json::to_vec(obj).map_err(kube::Error::SerdeError)?,
        )
        .map_err(kube::Error::BuildRequest)?;
    match send_unread(api, request).await {
        Ok(()) => Ok(true),
        Err(e) if is_already_exists(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Deletes the object `obj` describes, only if it is still that object (same UID); one that is
/// already gone is no error.
pub async fn delete_same<K>(api: &Api<K>, obj: &K) -> Result<()>
where
    K: Cacheable,
{
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: obj.meta().uid.clone(),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api
        .delete(obj.meta().name.as_deref().unwrap_or_default(), &params)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use kube::client::Body;
    use mcp_interface::api::networking::MultiClusterIngress;
    use serde_json::json;

    use super::*;

    /// The first `ensure` is given the object the finalizer write returned, later `update`s the
    /// cached copy: both must have the same shape, without `managedFields` and without
    /// `kubectl apply`'s copy of the object.
    #[tokio::test]
    async fn objects_a_write_returns_are_trimmed_as_the_caches_trim_them() {
        let answer = json!({
            "apiVersion": "networking.karmada.io/v1alpha1",
            "kind": "MultiClusterIngress",
            "metadata": {
                "name": "web", "namespace": "default", "resourceVersion": "2",
                "finalizers": ["karmada.io/multi-cluster-ingress-controller"],
                "managedFields": [{"manager": "kubectl", "operation": "Update"}],
                "annotations": {
                    "kubectl.kubernetes.io/last-applied-configuration": "{\"kind\":\"MultiClusterIngress\"}",
                    "team": "web",
                },
            },
        });
        let service = tower::service_fn(move |_: http::Request<Body>| {
            let body = Body::from(answer.to_string().into_bytes());
            async move { Ok::<_, std::convert::Infallible>(http::Response::new(body)) }
        });
        let api: Api<MultiClusterIngress> =
            Api::namespaced(kube::Client::new(service, "default"), "default");
        let cached: MultiClusterIngress = serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default", "resourceVersion": "1"},
        }))
        .unwrap();
        let shape = |mci: &MultiClusterIngress| {
            (
                mci.metadata.managed_fields.clone(),
                mci.metadata.annotations.clone(),
            )
        };
        let wanted = (
            None,
            Some(BTreeMap::from([("team".to_owned(), "web".to_owned())])),
        );
        let written = add_finalizer(&api, &cached, "karmada.io/multi-cluster-ingress-controller")
            .await
            .unwrap();
        assert_eq!(shape(&written), wanted);
        assert_eq!(written.metadata.resource_version.as_deref(), Some("2"));
        let written = patch_status_returning(&api, "web", json!({"trafficBlockClusters": []}))
            .await
            .unwrap();
        assert_eq!(shape(&written), wanted);
    }

    #[test]
    fn empty_status_fields_are_removed_with_null() {
        let no_addresses = serde_json::to_value(
            k8s_openapi::api::networking::v1::IngressLoadBalancerStatus { ingress: None },
        )
        .unwrap();
        assert_eq!(no_addresses, json!({}));
        assert_eq!(
            status_patch(json!({
                "loadBalancer": no_addresses,
                "emptyList": {"ingress": []},
                "trafficBlockClusters": [],
                "serviceLocations": null,
            })),
            json!({"loadBalancer": null, "emptyList": null, "trafficBlockClusters": null, "serviceLocations": null})
        );
        let kept = json!({"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}, "clusters": ["m1"]});
        assert_eq!(status_patch(kept.clone()), kept);
    }
}
