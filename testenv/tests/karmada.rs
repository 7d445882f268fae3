//! The Karmada mode itself: Karmada's components really run and do their jobs, errors carry the
//! failing component's log, and teardown leaves nothing behind: no process (pids gone) and no
//! directory.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use mcp_testenv::{KarmadaEnv, KarmadaOptions, locate_karmada_binaries};
use serde_json::json;

fn dynamic(client: kube::Client, gvk: (&str, &str, &str), plural: &str) -> Api<DynamicObject> {
    Api::all_with(
        client,
        &ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(gvk.0, gvk.1, gvk.2), plural),
    )
}

async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn karmada_runs_its_components_and_joins_the_members() {
    let env = KarmadaEnv::start(KarmadaOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let report = env.startup_report();
    eprintln!("{report}");
    assert!(report.phases.len() >= 6, "{report}");
    let memory = env.memory();
    let total_mib: u64 = memory.iter().map(|p| p.rss_kib).sum::<u64>() / 1024;
    eprintln!("memory: {total_mib} MiB in {} processes", memory.len());
    for process in &memory {
        assert!(process.rss_kib > 0, "{} is not running", process.name);
    }
    // Karmada API server (2) + 5 components + 2 members (2 each).
    assert_eq!(memory.len(), 11, "{memory:?}");

    let karmada = env.karmada_client().await.unwrap();

    // cluster.karmada.io is the aggregated API, not a CRD, and its Clusters are Ready.
    let crds = dynamic(
        karmada.clone(),
        ("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
        "customresourcedefinitions",
    );
    assert!(
        crds.get_opt("clusters.cluster.karmada.io")
            .await
            .unwrap()
            .is_none()
    );
    for crd in [
        "resourcebindings.work.karmada.io",
        "propagationpolicies.policy.karmada.io",
        "multiclusteringresses.networking.karmada.io",
        "serviceexports.multicluster.x-k8s.io",
    ] {
        assert!(crds.get_opt(crd).await.unwrap().is_some(), "CRD {crd}");
    }
    let rb_crd = crds.get("resourcebindings.work.karmada.io").await.unwrap();
    assert_eq!(
        rb_crd.data["spec"]["conversion"]["strategy"], "Webhook",
        "Karmada's conversion-webhook patch is applied"
    );
    let clusters = dynamic(
        karmada.clone(),
        ("cluster.karmada.io", "v1alpha1", "Cluster"),
        "clusters",
    );
    let names: Vec<String> = clusters
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|c| c.metadata.name.clone().unwrap_or_default())
        .collect();
    assert_eq!(names, ["member1", "member2"]);
    for cluster in clusters.list(&Default::default()).await.unwrap().items {
        assert_eq!(cluster.data["spec"]["syncMode"], "Push");
        let ready = cluster.data["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap()
            .clone();
        assert_eq!(ready["status"], "True", "{ready}");
    }

    // Karmada's cluster proxy reaches a member through the aggregated API server.
    let request = http::Request::get(
        "/apis/cluster.karmada.io/v1alpha1/clusters/member1/proxy/api/v1/namespaces/kube-system",
    )
    .body(Vec::new())
    .unwrap();
    let proxied = karmada.request_text(request).await.unwrap();
    let member1 = env.member_client("member1").await.unwrap();
    let direct = Api::<Namespace>::all(member1.clone())
        .get("kube-system")
        .await
        .unwrap();
    assert!(
        proxied.contains(direct.metadata.uid.as_deref().unwrap()),
        "the proxy answered {proxied}"
    );

    // karmada-webhook validates (clusterAffinity and clusterAffinities together are refused by
    // the webhook, not by the CRD schema) and mutates (a permanent id label on policies).
    let policies: Api<DynamicObject> = Api::namespaced_with(
        karmada.clone(),
        "default",
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("policy.karmada.io", "v1alpha1", "PropagationPolicy"),
            "propagationpolicies",
        ),
    );
    let invalid: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "policy.karmada.io/v1alpha1",
        "kind": "PropagationPolicy",
        "metadata": {"name": "invalid", "namespace": "default"},
        "spec": {"resourceSelectors": [{"apiVersion": "v1", "kind": "ConfigMap"}],
                 "placement": {"clusterAffinity": {"clusterNames": ["member1"]},
                               "clusterAffinities": [{"affinityName": "a", "clusterNames": ["member2"]}]}},
    }))
    .unwrap();
    let refused = policies
        .create(&PostParams::default(), &invalid)
        .await
        .expect_err("the webhook refuses clusterAffinity with clusterAffinities");
    let refused = refused.to_string();
    assert!(
        refused.contains("admission webhook") && refused.contains("cannot co-exist"),
        "{refused}"
    );

    // kube-controller-manager's garbage collector deletes what a deleted owner owned.
    let configmaps: Api<ConfigMap> = Api::namespaced(karmada.clone(), "default");
    let owner = configmaps
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "owner"}})).unwrap(),
        )
        .await
        .unwrap();
    configmaps
        .create(
            &PostParams::default(),
            &serde_json::from_value(
                json!({"metadata": {"name": "dependent", "ownerReferences": [{
                    "apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
                    "uid": owner.metadata.uid, "controller": true, "blockOwnerDeletion": true,
                }]}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    configmaps
        .delete("owner", &DeleteParams::background())
        .await
        .unwrap();
    eventually("the garbage collector to delete the dependent", || async {
        configmaps
            .get_opt("dependent")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;

    // A propagated object reaches the members (detector, scheduler, binding and execution
    // controllers).
    karmada_propagates_a_configmap(&karmada, &env).await;

    // Teardown stops every process and removes every directory.
    let pids: Vec<u32> = memory.iter().map(|p| p.pid).collect();
    let dir = env.dir().to_path_buf();
    let kubeconfig_dir = env.kubeconfig_path().parent().unwrap().to_path_buf();
    drop(env);
    for pid in pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "pid {pid} survived the teardown"
        );
    }
    assert!(!dir.exists());
    assert!(!kubeconfig_dir.exists());
}

async fn karmada_propagates_a_configmap(karmada: &kube::Client, env: &KarmadaEnv) {
    let configmaps: Api<ConfigMap> = Api::namespaced(karmada.clone(), "default");
    configmaps
        .create(
            &PostParams::default(),
            &serde_json::from_value(
                json!({"metadata": {"name": "propagated"}, "data": {"k": "v"}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let policy: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "policy.karmada.io/v1alpha1",
        "kind": "PropagationPolicy",
        "metadata": {"name": "propagated", "namespace": "default"},
        "spec": {"resourceSelectors": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "propagated"}],
                 "placement": {"clusterAffinity": {"clusterNames": ["member1", "member2"]}}},
    }))
    .unwrap();
    let created = Api::<DynamicObject>::namespaced_with(
        karmada.clone(),
        "default",
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("policy.karmada.io", "v1alpha1", "PropagationPolicy"),
            "propagationpolicies",
        ),
    )
    .create(&PostParams::default(), &policy)
    .await
    .unwrap();
    assert!(
        created
            .metadata
            .labels
            .unwrap_or_default()
            .contains_key("propagationpolicy.karmada.io/permanent-id"),
        "karmada-webhook's mutation labels the policy"
    );
    for member in ["member1", "member2"] {
        let client = env.member_client(member).await.unwrap();
        let in_member: Api<ConfigMap> = Api::namespaced(client, "default");
        eventually(&format!("the ConfigMap in {member}"), || async {
            in_member.get_opt("propagated").await.ok()?
        })
        .await;
    }
}

/// A component that dies at start-up fails the start with its log, and nothing is left running.
#[tokio::test]
async fn a_dying_component_fails_the_start_with_its_log() {
    let real = locate_karmada_binaries().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for binary in [
        "karmada-aggregated-apiserver",
        "karmada-controller-manager",
        "karmada-scheduler",
        "kube-controller-manager",
    ] {
        std::os::unix::fs::symlink(real.dir.join(binary), dir.path().join(binary)).unwrap();
    }
    let broken = dir.path().join("karmada-webhook");
    std::fs::write(
        &broken,
        "#!/bin/sh\necho 'webhook: cannot load its certificate (injected failure)' >&2\nexit 3\n",
    )
    .unwrap();
    std::fs::set_permissions(&broken, std::fs::Permissions::from_mode(0o755)).unwrap();
    let base = tempfile::tempdir().unwrap();
    let watcher = ProcessWatcher::start(base.path());
    let error = KarmadaEnv::start(KarmadaOptions {
        karmada: Some(mcp_testenv::KarmadaBinaries {
            dir: dir.path().to_owned(),
            module_dir: real.module_dir.clone(),
        }),
        base_dir: Some(base.path().to_owned()),
        members: vec!["member1".into()],
        ..KarmadaOptions::default()
    })
    .await
    .expect_err("the start fails");
    let message = error.to_string();
    eprintln!("{message}");
    assert!(message.contains("karmada-webhook exited"), "{message}");
    assert!(
        message.contains("cannot load its certificate (injected failure)"),
        "{message}"
    );
    // Every process's log is in the error, the member's included.
    assert!(
        message.contains("karmada-aggregated-apiserver.log"),
        "{message}"
    );
    assert!(message.contains("kube-apiserver.log"), "{message}");
    // Nothing is left running: every process the start ran (seen while it ran: the servers'
    // command lines and working directories are under `base`) is gone, and none is found now.
    let seen = watcher.stop();
    for server in ["etcd", "kube-apiserver"] {
        assert!(
            seen.values().any(|command| command.contains(server)),
            "the watcher never saw {server} run: {seen:?}"
        );
    }
    for (pid, command) in &seen {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "pid {pid} ({command}) survived the failed start"
        );
    }
    let running = processes_under(base.path());
    assert!(running.is_empty(), "left running: {running:?}");
    // Nor on disk: the environment's directories are gone.
    let left: Vec<_> = std::fs::read_dir(base.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Children of this process (the test binary's servers) that run under `base`: their command
/// line names a path in it, or it is their working directory. Pid -> command line.
fn processes_under(base: &Path) -> BTreeMap<u32, String> {
    let me = std::process::id().to_string();
    let base = base.to_string_lossy().into_owned();
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let proc_dir = entry.path();
        // The parent pid is the field after the state, after the parenthesised command name.
        let Ok(stat) = std::fs::read_to_string(proc_dir.join("stat")) else {
            continue;
        };
        let parent = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1).map(str::to_owned));
        if parent.as_deref() != Some(me.as_str()) {
            continue;
        }
        let command = std::fs::read(proc_dir.join("cmdline"))
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .unwrap_or_default();
        let cwd = std::fs::read_link(proc_dir.join("cwd")).unwrap_or_default();
        if command.contains(&base) || cwd.starts_with(&base) {
            found.insert(pid, command);
        }
    }
    found
}

/// Records, from a thread of its own, every process [`processes_under`] `base` finds while it
/// runs.
struct ProcessWatcher {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<BTreeMap<u32, String>>,
}

impl ProcessWatcher {
    fn start(base: &Path) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let base = base.to_owned();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut seen = BTreeMap::new();
            while !flag.load(Ordering::Relaxed) {
                seen.extend(processes_under(&base));
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            seen
        });
        Self { stop, thread }
    }

    fn stop(self) -> BTreeMap<u32, String> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}
