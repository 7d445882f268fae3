//! The control plane of a test ([`Env`]): started with the Karmada CRDs and `karmada-system`,
//! optionally with extra users, API server flags and RBAC; YAML applied to it; Clusters joined
//! as Karmada shows them; kubeconfigs of its users, or through a proxy.

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, PostParams};
use mcp_testenv::{ControlPlane, ControlPlaneOptions};

use super::{ControllerOptions, ControllerProcess, KARMADA_STATE, PROVIDER_USER};

/// A control plane of the test's own, with the Karmada CRDs and `karmada-system`.
pub struct Env {
    pub plane: ControlPlane,
    pub client: Client,
}

impl Env {
    pub async fn start() -> Env {
        Env::start_with(ControlPlaneOptions::default()).await
    }

    pub fn kubeconfig(&self) -> &Path {
        self.plane.kubeconfig_path()
    }

    /// Applies YAML documents (server-side apply), `namespace` for namespaced objects without one.
    pub async fn apply(&self, yaml: &str, namespace: &str) {
        mcp_testenv::apply_yaml(&self.client, yaml, "test", namespace)
            .await
            .unwrap_or_else(|e| panic!("apply failed: {e}\n{yaml}"));
    }

    /// Creates the Clusters `names` as Karmada shows joined members: Push mode, `Ready`, and
    /// serving the ServiceExport API in `status.apiEnablements` (written through the status
    /// subresource, as Karmada's cluster status controller does).
    pub async fn join_clusters(&self, names: &[&str]) {
        let clusters: Api<mcp_interface::api::cluster::Cluster> = Api::all(self.client.clone());
        for name in names {
            self.apply(
                &format!(
                    "apiVersion: cluster.karmada.io/v1alpha1\nkind: Cluster\nmetadata: {{name: {name}}}\nspec: {{syncMode: Push, apiEndpoint: 'https://{name}.example:6443'}}\n"
                ),
                "default",
            )
            .await;
            let status = serde_json::json!({"status": {
                "kubernetesVersion": "v1.36.3",
                "apiEnablements": [
                    {"groupVersion": "v1", "resources": [{"name": "services", "kind": "Service"}]},
                    {"groupVersion": "multicluster.x-k8s.io/v1alpha1", "resources": [
                        {"name": "serviceexports", "kind": "ServiceExport"},
                        {"name": "serviceimports", "kind": "ServiceImport"},
                    ]},
                ],
                "conditions": [{"type": "Ready", "status": "True", "reason": "ClusterReady",
                    "message": "cluster is healthy and ready to accept workloads",
                    "lastTransitionTime": "2026-01-01T00:00:00Z"}],
            }});
            clusters
                .patch_status(
                    name,
                    &kube::api::PatchParams::default(),
                    &kube::api::Patch::Merge(&status),
                )
                .await
                .unwrap_or_else(|e| panic!("writing the status of Cluster {name}: {e}"));
        }
    }

    /// What Karmada would have written for the example application: Clusters member1 and
    /// member2 ([`Env::join_clusters`]) and the ResourceBinding placing `serve` on both
    /// (tests/data/karmada-state.yaml), in namespace `namespace`.
    pub async fn apply_karmada_state(&self, namespace: &str) {
        self.join_clusters(&["member1", "member2"]).await;
        self.apply(KARMADA_STATE, namespace).await;
    }

    /// Starts the controller against this control plane.
    pub fn controller(&self, opts: ControllerOptions) -> ControllerProcess {
        ControllerProcess::start(self.kubeconfig(), opts)
    }
}

impl Env {
    /// Like [`Env::start`], with `options` (extra users, API server flags).
    pub async fn start_with(options: ControlPlaneOptions) -> Env {
        let plane = ControlPlane::start(options)
            .await
            .unwrap_or_else(|e| panic!("control plane: {e}"));
        let client = plane.admin_client().await.unwrap();
        mcp_testenv::install_crds(&client).await.unwrap();
        let ns: Api<Namespace> = Api::all(client.clone());
        let karmada_system: Namespace =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "karmada-system"}}))
                .unwrap();
        ns.create(&PostParams::default(), &karmada_system)
            .await
            .unwrap();
        Env { plane, client }
    }

    /// A control plane with the token user [`PROVIDER_USER`] and the RBAC `rbac_yaml` (normally
    /// [`super::DEPLOY_RBAC`]) applied; `extra_apiserver_args` as in [`ControlPlaneOptions`].
    /// Returns the environment and that user's kubeconfig, for
    /// [`ControllerOptions::with_kubeconfig`].
    pub async fn start_with_rbac(
        rbac_yaml: &str,
        extra_apiserver_args: Vec<String>,
    ) -> (Env, PathBuf) {
        let env = Env::start_with(ControlPlaneOptions {
            extra_users: vec![(PROVIDER_USER.to_owned(), Vec::new())],
            extra_apiserver_args,
            ..ControlPlaneOptions::default()
        })
        .await;
        env.apply(rbac_yaml, "karmada-system").await;
        let kubeconfig = env.plane.kubeconfig_path_for(PROVIDER_USER).unwrap();
        (env, kubeconfig)
    }
}

impl Env {
    /// An admin kubeconfig (written into `dir`) whose server is `127.0.0.1:<port>` instead of the
    /// API server's own port (a [`super::proxy::Proxy`] in front of it).
    pub fn kubeconfig_via(&self, port: u16, dir: &Path) -> PathBuf {
        let yaml = self
            .plane
            .kubeconfig_yaml(mcp_testenv::ADMIN_USER)
            .unwrap()
            .replace(
                self.plane.server_url(),
                &format!("https://127.0.0.1:{port}"),
            );
        let path = dir.join(format!("kubeconfig-via-{port}"));
        std::fs::write(&path, yaml).unwrap();
        path
    }

    /// The API server's address.
    pub fn server_address(&self) -> std::net::SocketAddr {
        self.plane
            .server_url()
            .trim_start_matches("https://")
            .parse()
            .unwrap()
    }
}
