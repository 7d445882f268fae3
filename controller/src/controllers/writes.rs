//! The writes the controllers share: finalizers and status fields with merge patches, and deletes
//! that cannot hit a newer object of the same name.

use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::{Resource, ResourceExt};
use serde::Serialize;

use crate::cache::Cacheable;
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
    Ok(api
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?)
}

/// Writes the status fields in `fields` (a JSON object; `null` removes a field) with a merge
/// patch on `/status`: the other status fields, written by other controllers or by Karmada, are
/// left as they are, so no conflict can clobber them. Returns the object as written.
pub async fn patch_status<K>(api: &Api<K>, name: &str, fields: serde_json::Value) -> Result<K>
where
    K: Cacheable,
{
    let patch = serde_json::json!({ "status": fields });
    Ok(api
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?)
}

/// Creates `obj`; `false` when an object of that name already exists (typically our own
/// earlier create that the cache has not shown yet: its event triggers another reconcile).
pub async fn create_unless_exists<K>(api: &Api<K>, obj: &K) -> Result<bool>
where
    K: Cacheable + Serialize,
{
    match api.create(&PostParams::default(), obj).await {
        Ok(_) => Ok(true),
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
