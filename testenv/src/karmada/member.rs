//! Member clusters: their API servers, and joining them to Karmada in Push mode as
//! `karmadactl join` does (`pkg/karmadactl/join`, `pkg/util/credential.go` of the module).
//!
//! In the member: namespace `karmada-cluster`, ServiceAccounts `karmada-<cluster>` (bound to a
//! ClusterRole `karmada-controller-manager:karmada-<cluster>` allowing everything) and
//! `karmada-impersonator`. In Karmada: namespace `karmada-cluster`, Secrets `<cluster>`
//! (`token`, `caBundle`) and `<cluster>-impersonator` (`token`), and the Cluster
//! (`syncMode: Push`, `apiEndpoint`, `id` = the member's kube-system UID, `secretRef`,
//! `impersonatorSecretRef`), which then owns both Secrets.
//!
//! One difference: `karmadactl join` creates a legacy service-account token Secret and waits for
//! the member's token controller to fill it in; these members run no controller manager, so the
//! same ServiceAccounts' tokens come from the TokenRequest API (valid for a year).

use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Client, Resource as _};
use serde_json::json;

use crate::control_plane::{ControlPlane, ControlPlaneOptions};
use crate::crds::FIELD_MANAGER;
use crate::error::{Error, Result};

/// The namespace holding cluster credentials, on both sides.
const CLUSTER_NAMESPACE: &str = "karmada-cluster";
const SYSTEM_LABEL: &str = "karmada.io/system";
const IMPERSONATOR_ACCOUNT: &str = "karmada-impersonator";
const TOKEN_LIFETIME_SECONDS: i64 = 365 * 24 * 3600;

/// `cluster.karmada.io/v1alpha1` `Cluster`.
pub fn cluster_api_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("cluster.karmada.io", "v1alpha1", "Cluster"),
        "clusters",
    )
}

/// Starts a member cluster's API server (a light-mode [`ControlPlane`] named `name`).
pub(super) async fn start_plane(
    name: &str,
    bin_dir: &Path,
    base_dir: &Path,
    timeout: Duration,
) -> Result<ControlPlane> {
    ControlPlane::start(ControlPlaneOptions {
        name: name.to_owned(),
        bin_dir: Some(bin_dir.to_owned()),
        base_dir: Some(base_dir.to_owned()),
        start_timeout: timeout,
        ..ControlPlaneOptions::default()
    })
    .await
}

fn system_labels() -> serde_json::Value {
    json!({ SYSTEM_LABEL: "true" })
}

async fn apply<K>(api: &Api<K>, name: &str, object: serde_json::Value) -> Result<K>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    api.patch(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(object),
    )
    .await
    .map_err(Error::kube(format!("applying {name}")))
}

/// A year-long token of ServiceAccount `karmada-cluster/<account>` in the member.
async fn token(member: &Client, account: &str) -> Result<String> {
    let accounts: Api<ServiceAccount> = Api::namespaced(member.clone(), CLUSTER_NAMESPACE);
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: Some(TOKEN_LIFETIME_SECONDS),
            ..TokenRequestSpec::default()
        }),
        ..TokenRequest::default()
    };
    let response = accounts
        .create_token_request(account, &PostParams::default(), &request)
        .await
        .map_err(Error::kube(format!(
            "requesting a token for ServiceAccount {CLUSTER_NAMESPACE}/{account}"
        )))?;
    response
        .status
        .and_then(|s| s.token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::Karmada {
            what: format!("requesting a token for {account}"),
            detail: "the TokenRequest returned no token".into(),
            logs: String::new(),
        })
}

/// Joins member `name` (reached at `server_url`, serving with a certificate of `ca_pem`).
pub(super) async fn join(
    karmada: &Client,
    member: &Client,
    name: &str,
    server_url: &str,
    ca_pem: &[u8],
) -> Result<()> {
    // The member's side.
    let namespaces: Api<Namespace> = Api::all(member.clone());
    apply(
        &namespaces,
        CLUSTER_NAMESPACE,
        json!({"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"name": CLUSTER_NAMESPACE, "labels": system_labels()}}),
    )
    .await?;
    let cluster_id = namespaces
        .get("kube-system")
        .await
        .map_err(Error::kube("reading the member's kube-system namespace"))?
        .metadata
        .uid
        .unwrap_or_default();
    let accounts: Api<ServiceAccount> = Api::namespaced(member.clone(), CLUSTER_NAMESPACE);
    let account = format!("karmada-{name}");
    for sa in [IMPERSONATOR_ACCOUNT, account.as_str()] {
        apply(
            &accounts,
            sa,
            json!({"apiVersion": "v1", "kind": "ServiceAccount",
                   "metadata": {"name": sa, "namespace": CLUSTER_NAMESPACE, "labels": system_labels()}}),
        )
        .await?;
    }
    let role = format!("karmada-controller-manager:{account}");
    apply(
        &Api::<ClusterRole>::all(member.clone()),
        &role,
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": role, "labels": system_labels()},
        "rules": [
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
            {"nonResourceURLs": ["*"], "verbs": ["get"]}
        ]}),
    )
    .await?;
    apply(
        &Api::<ClusterRoleBinding>::all(member.clone()),
        &role,
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": role, "labels": system_labels()},
               "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": CLUSTER_NAMESPACE}],
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}}),
    )
    .await?;
    let impersonator_token = token(member, IMPERSONATOR_ACCOUNT).await?;
    let cluster_token = token(member, &account).await?;

    // Karmada's side.
    apply(
        &Api::<Namespace>::all(karmada.clone()),
        CLUSTER_NAMESPACE,
        json!({"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"name": CLUSTER_NAMESPACE, "labels": system_labels()}}),
    )
    .await?;
    let secrets: Api<Secret> = Api::namespaced(karmada.clone(), CLUSTER_NAMESPACE);
    let impersonator_secret = format!("{name}-impersonator");
    apply(
        &secrets,
        &impersonator_secret,
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": impersonator_secret, "namespace": CLUSTER_NAMESPACE, "labels": system_labels()},
               "stringData": {"token": impersonator_token}}),
    )
    .await?;
    apply(
        &secrets,
        name,
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": name, "namespace": CLUSTER_NAMESPACE, "labels": system_labels()},
               "stringData": {"token": cluster_token, "caBundle": String::from_utf8_lossy(ca_pem)}}),
    )
    .await?;
    let clusters: Api<DynamicObject> = Api::all_with(karmada.clone(), &cluster_api_resource());
    let cluster: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "cluster.karmada.io/v1alpha1",
        "kind": "Cluster",
        "metadata": {"name": name},
        "spec": {
            "syncMode": "Push",
            "apiEndpoint": server_url,
            "id": cluster_id,
            "secretRef": {"namespace": CLUSTER_NAMESPACE, "name": name},
            "impersonatorSecretRef": {"namespace": CLUSTER_NAMESPACE, "name": impersonator_secret},
        }
    }))
    .expect("a valid Cluster");
    let cluster = clusters
        .create(&PostParams::default(), &cluster)
        .await
        .map_err(Error::kube(format!("creating Cluster {name}")))?;
    // As karmadactl: the Cluster owns its credentials, so they go when it goes.
    let owner = json!({"metadata": {"ownerReferences": [{
        "apiVersion": "cluster.karmada.io/v1alpha1",
        "kind": "Cluster",
        "name": name,
        "uid": cluster.meta().uid,
        "controller": true,
        "blockOwnerDeletion": true,
    }]}});
    for secret in [name, impersonator_secret.as_str()] {
        secrets
            .patch(secret, &PatchParams::default(), &Patch::Merge(&owner))
            .await
            .map_err(Error::kube(format!("setting the owner of Secret {secret}")))?;
    }
    Ok(())
}

/// Unjoins member `name`: deletes the Cluster, waits until Karmada has finished with it, then
/// removes the credentials (Karmada's side, and the member's when reachable).
pub(super) async fn unjoin(
    karmada: &Client,
    member: Option<&Client>,
    name: &str,
    timeout: Duration,
) -> Result<()> {
    let clusters: Api<DynamicObject> = Api::all_with(karmada.clone(), &cluster_api_resource());
    match clusters.delete(name, &DeleteParams::default()).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 404 => {}
        Err(e) => return Err(Error::kube(format!("deleting Cluster {name}"))(e)),
    }
    let deadline = Instant::now() + timeout;
    loop {
        match clusters.get_opt(name).await {
            Ok(None) => break,
            Ok(Some(cluster)) if Instant::now() > deadline => {
                return Err(Error::Karmada {
                    what: format!("unjoining {name}"),
                    detail: format!(
                        "the Cluster still exists after {timeout:?} (finalizers {:?})",
                        cluster.metadata.finalizers
                    ),
                    logs: String::new(),
                });
            }
            Ok(Some(_)) => {}
            Err(e) => return Err(Error::kube(format!("reading Cluster {name}"))(e)),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let secrets: Api<Secret> = Api::namespaced(karmada.clone(), CLUSTER_NAMESPACE);
    for secret in [name.to_owned(), format!("{name}-impersonator")] {
        delete_if_present(&secrets, &secret).await?;
    }
    if let Some(member) = member {
        let account = format!("karmada-{name}");
        let role = format!("karmada-controller-manager:{account}");
        delete_if_present(&Api::<ClusterRoleBinding>::all(member.clone()), &role).await?;
        delete_if_present(&Api::<ClusterRole>::all(member.clone()), &role).await?;
        delete_if_present(&Api::<Namespace>::all(member.clone()), CLUSTER_NAMESPACE).await?;
    }
    Ok(())
}

async fn delete_if_present<K>(api: &Api<K>, name: &str) -> Result<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(Error::kube(format!("deleting {name}"))(e)),
    }
}

/// The Cluster's `Ready` condition: (status, reason and message).
pub(super) fn ready_condition(cluster: &DynamicObject) -> Option<(String, String)> {
    cluster.data["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")
        .map(|c| {
            (
                c["status"].as_str().unwrap_or_default().to_owned(),
                format!(
                    "{}: {}",
                    c["reason"].as_str().unwrap_or_default(),
                    c["message"].as_str().unwrap_or_default()
                ),
            )
        })
}
