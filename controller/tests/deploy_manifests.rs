//! deploy/ against a real API server: every manifest passes a server-side dry run, the
//! Deployment's pod meets the `restricted` Pod Security Standard, and hack/deploy-provider.sh's
//! kubectl steps (everything but building and loading the image and starting pods) work against
//! the local control plane, idempotently, leaving a kubeconfig Secret the controller runs with.

#![forbid(unsafe_code)]

pub mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{ControllerOptions, DEPLOY_RBAC, Env, deploy_dir, eventually, kubectl};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod, Secret};
use k8s_openapi::api::networking::v1::IngressClass;
use k8s_openapi::api::rbac::v1::ClusterRole;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::{self, Scope};
use mcp_interface::api::networking::MultiClusterIngress;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

/// Every YAML file under deploy/ (crds/ included), sorted.
fn manifests() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&deploy_dir(), &mut out);
    out.sort();
    out
}

/// Server-side apply with dryRun=All; returns the object the server would store.
async fn dry_run(env: &Env, object: &DynamicObject) -> Result<DynamicObject, String> {
    let types = object.types.as_ref().ok_or("no apiVersion/kind")?;
    let gvk = GroupVersionKind::try_from(types).map_err(|e| e.to_string())?;
    let (resource, caps) = discovery::pinned_kind(&env.client, &gvk)
        .await
        .map_err(|e| format!("{}/{}: {e}", types.api_version, types.kind))?;
    let api: Api<DynamicObject> = match caps.scope {
        Scope::Namespaced => Api::namespaced_with(
            env.client.clone(),
            object.metadata.namespace.as_deref().unwrap_or("default"),
            &resource,
        ),
        Scope::Cluster => Api::all_with(env.client.clone(), &resource),
    };
    let name = object.metadata.name.clone().ok_or("no metadata.name")?;
    let params = PatchParams::apply("deploy-manifests-test")
        .force()
        .dry_run();
    let stored = api
        .patch(&name, &params, &Patch::Apply(object))
        .await
        .map_err(|e| format!("{} {name}: {e}", types.kind))?;
    // A dry run stores nothing (CRDs and namespaces the environment made already exist).
    if types.kind != "CustomResourceDefinition" {
        let after = api.get_opt(&name).await.map_err(|e| e.to_string())?;
        if after.is_some() {
            return Err(format!("{} {name} exists after a dry run", types.kind));
        }
    }
    Ok(stored)
}

#[tokio::test]
async fn every_manifest_in_deploy_passes_a_server_side_dry_run() {
    let env = Env::start().await;
    let files = manifests();
    for expected in [
        "multicluster-provider-fake.yaml",
        "ingressclass-fake.yaml",
        "karmada-rbac.yaml",
    ] {
        assert!(
            files.iter().any(|f| f.ends_with(expected)),
            "deploy/{expected} is missing: {files:?}"
        );
    }
    let mut failures = Vec::new();
    let mut count = 0;
    for file in &files {
        let yaml = std::fs::read_to_string(file).unwrap();
        let objects = mcp_testenv::parse_manifests(&yaml, &file.display().to_string()).unwrap();
        assert!(!objects.is_empty(), "{} holds no object", file.display());
        for object in objects {
            count += 1;
            if let Err(e) = dry_run(&env, &object).await {
                failures.push(format!("{}: {e}", file.display()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "server-side dry run failed:\n{}",
        failures.join("\n")
    );
    assert!(count >= 8, "only {count} objects under deploy/");
}

#[tokio::test]
async fn the_deployments_pod_meets_the_restricted_pod_security_standard() {
    let env = Env::start().await;
    let yaml =
        std::fs::read_to_string(deploy_dir().join("multicluster-provider-fake.yaml")).unwrap();
    let deployment: Deployment = serde_yaml::from_str(&yaml).unwrap();
    let spec = deployment.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(2));
    let pod_spec = spec.template.spec.clone().unwrap();
    let container = &pod_spec.containers[0];
    let args = container.args.clone().unwrap_or_default();
    for needed in [
        "--kubeconfig=/etc/kubeconfig/karmada.config",
        "--cloud-provider=fake",
        "--provider-ingress-class=karmada.io/fake",
        "--leader-elect=true",
        "--secure-port=10368",
    ] {
        assert!(args.iter().any(|a| a == needed), "{needed} not in {args:?}");
    }
    assert!(
        !args.iter().any(|a| a.starts_with("--provider-dir")),
        "the image's default provider directory must do"
    );
    let probe_port = |p: &Option<k8s_openapi::api::core::v1::Probe>| {
        let get = p.as_ref().unwrap().http_get.as_ref().unwrap();
        (get.path.clone().unwrap(), get.port.clone())
    };
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    assert_eq!(
        probe_port(&container.liveness_probe),
        ("/healthz".to_owned(), IntOrString::Int(10368))
    );
    assert_eq!(
        probe_port(&container.readiness_probe),
        ("/readyz".to_owned(), IntOrString::Int(10368))
    );
    let resources = container.resources.as_ref().unwrap();
    assert!(resources.requests.is_some() && resources.limits.is_some());
    let mount = &container.volume_mounts.as_ref().unwrap()[0];
    assert_eq!(mount.read_only, Some(true));
    let volume = &pod_spec.volumes.as_ref().unwrap()[0];
    assert_eq!(
        volume.secret.as_ref().unwrap().secret_name.as_deref(),
        Some("multicluster-provider-config")
    );

    // The API server's PodSecurity admission judges a pod made from the template.
    let namespace: Namespace = serde_json::from_value(json!({"metadata": {
        "name": "restricted",
        "labels": {
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest",
        },
    }}))
    .unwrap();
    Api::<Namespace>::all(env.client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap();
    let pod = Pod {
        metadata: kube::core::ObjectMeta {
            name: Some("multicluster-provider-fake".into()),
            ..Default::default()
        },
        spec: Some(pod_spec),
        ..Default::default()
    };
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), "restricted");
    let params = PostParams {
        dry_run: true,
        ..Default::default()
    };
    pods.create(&params, &pod).await.unwrap_or_else(|e| {
        panic!("the Deployment's pod is refused in a namespace enforcing `restricted`: {e}")
    });
}

/// A MAIN_KUBECONFIG like Karmada's local-up one: contexts `karmada-host` and
/// `karmada-apiserver`, here both the admin of one control plane.
fn main_kubeconfig(env: &Env, path: &Path) {
    let admin: Value =
        serde_yaml::from_str(&env.plane.kubeconfig_yaml(mcp_testenv::ADMIN_USER).unwrap()).unwrap();
    let context = admin["contexts"][0]["context"].clone();
    let mut config = admin.clone();
    config["contexts"] = json!([
        {"name": "karmada-host", "context": context},
        {"name": "karmada-apiserver", "context": context},
    ]);
    config["current-context"] = json!("karmada-apiserver");
    std::fs::write(path, serde_yaml::to_string(&config).unwrap()).unwrap();
}

fn deploy_script(main_kubeconfig: &Path, envs: &[(&str, &str)]) -> (bool, String) {
    let script = mcp_testenv::repo_root().join("hack/deploy-provider.sh");
    let out = Command::new("bash")
        .arg(&script)
        .env("MAIN_KUBECONFIG", main_kubeconfig)
        .env("KUBECTL", kubectl())
        .envs(envs.iter().copied())
        .output()
        .expect("run hack/deploy-provider.sh");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), log)
}

fn secret_kubeconfig(secret: &Secret) -> Vec<u8> {
    secret.data.as_ref().unwrap()["karmada.config"].0.clone()
}

#[tokio::test]
async fn the_deploy_scripts_kubectl_steps_work_against_the_local_control_plane() {
    let (env, provider_kubeconfig) = Env::start_with_rbac(DEPLOY_RBAC, Vec::new()).await;
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("karmada.config");
    main_kubeconfig(&env, &main);
    let c = &env.client;
    let deployments: Api<Deployment> = Api::namespaced(c.clone(), "karmada-system");
    let secrets: Api<Secret> = Api::namespaced(c.clone(), "karmada-system");

    // DRY_RUN: every step is a server-side dry run, nothing is created.
    let (ok, log) = deploy_script(&main, &[("DRY_RUN", "true")]);
    assert!(ok, "DRY_RUN failed:\n{log}");
    assert!(
        deployments
            .get_opt("multicluster-provider-fake")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        Api::<IngressClass>::all(c.clone())
            .get_opt("fake")
            .await
            .unwrap()
            .is_none()
    );

    // For real (no image, no wait), twice: every step is idempotent.
    let provider_kubeconfig_str = provider_kubeconfig.to_str().unwrap();
    let envs = [
        ("SKIP_IMAGE", "true"),
        ("SKIP_WAIT", "true"),
        ("REGISTRY", "registry.example.com/karmada"),
        ("VERSION", "v0.1.0-test"),
        ("PROVIDER_KUBECONFIG", provider_kubeconfig_str),
    ];
    for run in 1..=2 {
        let (ok, log) = deploy_script(&main, &envs);
        assert!(ok, "run {run} failed:\n{log}");
    }
    let deployment = deployments.get("multicluster-provider-fake").await.unwrap();
    let container = &deployment.spec.unwrap().template.spec.unwrap().containers[0];
    assert_eq!(
        container.image.as_deref(),
        Some("registry.example.com/karmada/multicluster-provider-fake:v0.1.0-test")
    );
    let class = Api::<IngressClass>::all(c.clone())
        .get("fake")
        .await
        .unwrap();
    assert_eq!(
        class.spec.unwrap().controller.as_deref(),
        Some("karmada.io/fake")
    );
    assert!(
        Api::<ClusterRole>::all(c.clone())
            .get_opt("karmada:multicluster-provider")
            .await
            .unwrap()
            .is_some()
    );
    let secret = secrets.get("multicluster-provider-config").await.unwrap();
    let in_secret = secret_kubeconfig(&secret);
    assert_eq!(in_secret, std::fs::read(&provider_kubeconfig).unwrap());

    // The controller runs with the Secret's kubeconfig, as the pod would, under the RBAC the
    // script applied.
    let from_secret = dir.path().join("from-secret.config");
    std::fs::write(&from_secret, &in_secret).unwrap();
    env.apply(include_str!("../../examples/mci.yaml"), "default")
        .await;
    let mut controller = env.controller(
        ControllerOptions::new(dir.path())
            .with_kubeconfig(&from_secret)
            .arg("--controllers=multiclusteringress"),
    );
    controller.wait_ready(WAIT).await;
    let mcis: Api<MultiClusterIngress> = Api::namespaced(c.clone(), "default");
    eventually(WAIT, "the MCI's address", || async {
        let mci = serde_json::to_value(mcis.get("minimal-ingress").await.ok()?).unwrap();
        (mci["status"]["loadBalancer"]["ingress"][0]["ip"] == "1.2.3.4").then_some(())
    })
    .await;
    let status = controller.terminate(WAIT).await;
    assert!(status.success(), "{}", controller.logs());
    assert!(
        !controller.logs().to_lowercase().contains("forbidden"),
        "{}",
        controller.logs()
    );

    // Without PROVIDER_KUBECONFIG the Secret holds only the Karmada API server's context of
    // MAIN_KUBECONFIG, credentials embedded.
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": "other-system"}})).unwrap();
    Api::<Namespace>::all(c.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let (ok, log) = deploy_script(
        &main,
        &[
            ("SKIP_IMAGE", "true"),
            ("SKIP_WAIT", "true"),
            ("KARMADA_SYSTEM_NAMESPACE", "other-system"),
        ],
    );
    assert!(ok, "{log}");
    let secret = Api::<Secret>::namespaced(c.clone(), "other-system")
        .get("multicluster-provider-config")
        .await
        .unwrap();
    let config: Value = serde_yaml::from_slice(&secret_kubeconfig(&secret)).unwrap();
    assert_eq!(config["current-context"], "karmada-apiserver");
    assert_eq!(config["contexts"].as_array().unwrap().len(), 1, "{config}");
    assert!(
        config["clusters"][0]["cluster"]["certificate-authority-data"].is_string(),
        "{config}"
    );
    let kubeconfig =
        kube::config::Kubeconfig::from_yaml(&serde_yaml::to_string(&config).unwrap()).unwrap();
    let client = kube::Client::try_from(
        kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .unwrap(),
    )
    .unwrap();
    client.apiserver_version().await.unwrap();
    assert!(
        Api::<Deployment>::namespaced(c.clone(), "other-system")
            .get_opt("multicluster-provider-fake")
            .await
            .unwrap()
            .is_some()
    );

    // The documented removal command.
    let out = Command::new(kubectl())
        .env("KUBECONFIG", &main)
        .args([
            "--context",
            "karmada-host",
            "-n",
            "karmada-system",
            "delete",
            "deployments.apps",
            "multicluster-provider-fake",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        deployments
            .get_opt("multicluster-provider-fake")
            .await
            .unwrap()
            .is_none()
    );
}
