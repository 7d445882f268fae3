//! The harness of `karmada_e2e.rs`: one Karmada environment and one controller shared by every
//! test of that binary, and the Karmada API helpers the tests read objects with.
//!
//! One test's failure does not fail the others: the environment starts once (a failed start is
//! kept and reported by each test, not retried seven times); each test acquires it through
//! [`shared_lock`] or [`exclusive`], which check that Karmada's processes still run and restart
//! the controller when a test left it stopped (the garbage-collection test failing half-way) or
//! it exited (that crash is reported, once, by the test that finds it); the locks do not poison;
//! each test works in a namespace of its own, and the member clusters a test adds are stopped by
//! a guard ([`Shared::add_member`]) whether the test passes or not.

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use mcp_testenv::{KarmadaEnv, KarmadaOptions};
use serde_json::{Value, json};
use tokio::sync::{Mutex, OnceCell, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::common::{self, ControllerOptions, ControllerProcess, DEPLOY_RBAC, PROVIDER_USER};

/// How long anything Karmada does may take here (a loaded 2-core machine).
pub const WAIT: Duration = Duration::from_secs(120);

/// The Karmada environment and the controller under test, shared by the tests of this binary.
pub struct Shared {
    pub env: KarmadaEnv,
    dir: PathBuf,
    /// The fake cloud's state file.
    state: PathBuf,
    /// The controller's own kubeconfig (user `multicluster-provider` with the deploy RBAC).
    kubeconfig: PathBuf,
    /// `None` while the garbage-collection test has it stopped.
    controller: Mutex<Option<ControllerProcess>>,
}

static SHARED: OnceCell<Result<Shared, String>> = OnceCell::const_new();
static CONTROLLER_LOCK: RwLock<()> = RwLock::const_new(());

async fn shared() -> &'static Shared {
    match SHARED.get_or_init(Shared::start).await {
        Ok(shared) => shared,
        Err(error) => panic!("the shared Karmada environment did not start: {error}"),
    }
}

/// Every test but the garbage-collection one: the controller runs while the guard lives.
pub async fn shared_lock() -> (&'static Shared, RwLockReadGuard<'static, ()>) {
    let guard = CONTROLLER_LOCK.read().await;
    let shared = shared().await;
    shared.ready_for_a_test().await;
    (shared, guard)
}

/// The garbage-collection test: no other test runs while it stops the controller.
pub async fn exclusive() -> (&'static Shared, RwLockWriteGuard<'static, ()>) {
    let guard = CONTROLLER_LOCK.write().await;
    let shared = shared().await;
    shared.ready_for_a_test().await;
    (shared, guard)
}

/// A member cluster a test added: stopped when the test ends, passed or failed.
pub struct Member<'a> {
    env: &'a KarmadaEnv,
    name: &'static str,
}

impl Drop for Member<'_> {
    fn drop(&mut self) {
        if self.env.member_names().iter().any(|m| m == self.name) {
            let _ = self.env.stop_member(self.name);
        }
    }
}

impl Shared {
    async fn start() -> Result<Shared, String> {
        let env = KarmadaEnv::start(KarmadaOptions {
            extra_users: vec![(PROVIDER_USER.to_owned(), Vec::new())],
            ..KarmadaOptions::default()
        })
        .await
        .map_err(|e| format!("starting Karmada: {e}"))?;
        eprintln!("{}", env.startup_report());
        let client = env.karmada_client().await.map_err(|e| e.to_string())?;
        let rbac = "deploy/karmada-rbac.yaml";
        mcp_testenv::apply_yaml(&client, DEPLOY_RBAC, rbac, "karmada-system")
            .await
            .map_err(|e| format!("applying {rbac}: {e}"))?;
        mcp_testenv::apply_yaml(&client, common::INGRESS_CLASS, "examples", "default")
            .await
            .map_err(|e| format!("applying the IngressClass: {e}"))?;
        let kubeconfig = env
            .karmada()
            .kubeconfig_path_for(PROVIDER_USER)
            .map_err(|e| e.to_string())?;
        // Inside the environment's directory: removed with it when the test binary exits.
        let dir = env.dir().join("controller");
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        Ok(Shared {
            state: dir.join("fake-cloud.db"),
            env,
            kubeconfig,
            dir,
            controller: Mutex::new(None),
        })
    }

    /// Panics if Karmada's processes died (nothing can run then); starts the controller if it
    /// is not running, and panics (once, after restarting it) if it had exited on its own.
    async fn ready_for_a_test(&self) {
        if let Err(error) = self.env.check_health() {
            panic!("the shared Karmada environment failed (in an earlier test): {error}");
        }
        let mut controller = self.controller.lock().await;
        let crashed = match controller.as_ref() {
            Some(process) if process.running() => return,
            Some(process) => Some(process.logs()),
            None => None,
        };
        let options = ControllerOptions::new(&self.dir)
            .cloud_config(&format!("stateFile: {}", self.state.display()));
        // Restarted on new ports if another process took one of those it was given.
        let mut process = ControllerProcess::start(&self.kubeconfig, options);
        process.wait_ready(WAIT).await;
        *controller = Some(process);
        drop(controller);
        if let Some(log) = crashed {
            panic!("the controller exited during an earlier test (restarted now); its log:\n{log}");
        }
    }

    /// Stops the controller with SIGTERM (a clean exit required); the next test's
    /// [`shared_lock`] or [`Shared::start_controller`] starts it again.
    pub async fn stop_controller(&self) {
        if let Some(mut process) = self.controller.lock().await.take() {
            process.stop(Duration::from_secs(30)).await;
        }
    }

    pub async fn start_controller(&self) {
        self.ready_for_a_test().await;
    }

    /// The controller's log so far (for failure messages).
    async fn controller_log(&self) -> String {
        let controller = self.controller.lock().await;
        controller.as_ref().map(|c| c.logs()).unwrap_or_default()
    }

    /// Panics (with every log) unless Karmada's processes and the controller still run.
    pub async fn check_health(&self) {
        if let Err(error) = self.env.check_health() {
            panic!("the Karmada environment failed: {error}");
        }
        let controller = self.controller.lock().await;
        if let Some(process) = controller.as_ref() {
            assert!(
                process.running(),
                "the controller exited:\n{}",
                process.logs()
            );
            assert!(
                matches!(process.health("/healthz"), Some((200, _))),
                "the controller is not healthy"
            );
        }
    }

    /// The sum of the controller's series `name` with `labels` (see
    /// [`ControllerProcess::metric_sum`]).
    pub async fn metric_sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let controller = self.controller.lock().await;
        let process = controller.as_ref().expect("the controller runs");
        process.metric_sum(name, labels)
    }

    /// Waits until controller `go_name` (controller-runtime's name, e.g.
    /// `multiclusterservice-controller`) has nothing queued and nothing running: every request
    /// its watches made so far has been reconciled.
    pub async fn wait_idle(&self, go_name: &str) {
        self.eventually(&format!("{go_name} to be idle"), || async {
            let depth = self
                .metric_sum("workqueue_depth", &[("name", go_name)])
                .await;
            let active = self
                .metric_sum(
                    "controller_runtime_active_workers",
                    &[("controller", go_name)],
                )
                .await;
            (depth == 0.0 && active == 0.0).then_some(())
        })
        .await
    }

    pub async fn karmada(&self) -> Client {
        self.env.karmada_client().await.unwrap()
    }

    pub async fn member(&self, name: &str) -> Client {
        self.env.member_client(name).await.unwrap()
    }

    /// Starts member cluster `name` and joins it; it is stopped when the guard drops.
    pub async fn add_member(&self, name: &'static str) -> Member<'_> {
        self.env
            .add_member(name)
            .await
            .unwrap_or_else(|e| panic!("adding {name}: {e}"));
        Member {
            env: &self.env,
            name,
        }
    }

    /// Creates a namespace on the Karmada API server for one test.
    pub async fn namespace(&self, name: &str) -> String {
        let namespaces: Api<Namespace> = Api::all(self.karmada().await);
        let namespace: Namespace =
            serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        match namespaces.create(&PostParams::default(), &namespace).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => panic!("creating namespace {name}: {e}"),
        }
        name.to_owned()
    }

    pub async fn apply(&self, yaml: &str, namespace: &str) {
        let client = self.karmada().await;
        mcp_testenv::apply_yaml(&client, yaml, "test", namespace)
            .await
            .unwrap_or_else(|e| panic!("apply failed: {e}\n{yaml}"));
    }

    /// Like [`common::eventually`], but a timeout also prints the controller's log and checks
    /// that nothing died.
    pub async fn eventually<T, F, Fut>(&self, what: &str, check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        self.check_health().await;
        let outcome = tokio::time::timeout(WAIT + Duration::from_secs(5), async {
            common::eventually(WAIT, what, check).await
        })
        .await;
        match outcome {
            Ok(value) => value,
            Err(_) => panic!(
                "timed out waiting for {what}; controller log:\n{}",
                self.controller_log().await
            ),
        }
    }

    /// Waits until object `name` of `api` exists; returns it.
    pub async fn wait_exists(
        &self,
        what: &str,
        api: &Api<DynamicObject>,
        name: &str,
    ) -> DynamicObject {
        self.eventually(what, || async { api.get_opt(name).await.ok()? })
            .await
    }

    /// How many calls of `method` (`mci_update`, `mcs_ensure`, ...) for `<ns>/<name>` the fake
    /// cloud has served.
    pub fn cloud_calls(&self, method: &str, object: &str) -> usize {
        common::fake_state(&self.state)["calls"]
            .as_array()
            .map(|calls| {
                calls
                    .iter()
                    .filter(|c| c["method"] == method && c["object"] == object)
                    .count()
            })
            .unwrap_or(0)
    }

    /// The fake cloud's state file (`common::fake_state` reads it).
    pub fn state_file(&self) -> &std::path::Path {
        &self.state
    }

    /// Balancer `key` (`mci/<ns>/<name>`) as the fake cloud stores it, if it exists.
    pub fn fake_balancer(&self, key: &str) -> Option<Value> {
        let balancer = common::fake_state(&self.state)["balancers"][key].clone();
        (!balancer.is_null()).then_some(balancer)
    }

    /// The fake cloud's balancers (keys `mci/<ns>/<name>`, `mcs/<ns>/<name>`).
    pub fn balancers(&self) -> Vec<String> {
        common::fake_state(&self.state)["balancers"]
            .as_object()
            .map(|b| b.keys().cloned().collect())
            .unwrap_or_default()
    }
}

/// How many objects of `api` `keep` selects (`None` if they cannot be listed).
pub async fn count(
    api: Api<DynamicObject>,
    keep: impl Fn(&DynamicObject) -> bool,
) -> Option<usize> {
    let list = api.list(&Default::default()).await.ok()?;
    Some(list.items.iter().filter(|o| keep(o)).count())
}

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

pub fn service_exports(client: Client, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(
        client,
        namespace,
        &resource(
            "multicluster.x-k8s.io",
            "v1alpha1",
            "ServiceExport",
            "serviceexports",
        ),
    )
}

pub fn propagation_policies(client: Client, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(
        client,
        namespace,
        &resource(
            "policy.karmada.io",
            "v1alpha1",
            "PropagationPolicy",
            "propagationpolicies",
        ),
    )
}

pub fn cluster_propagation_policies(client: Client) -> Api<DynamicObject> {
    Api::all_with(
        client,
        &resource(
            "policy.karmada.io",
            "v1alpha1",
            "ClusterPropagationPolicy",
            "clusterpropagationpolicies",
        ),
    )
}

pub fn resource_bindings(client: Client, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(
        client,
        namespace,
        &resource(
            "work.karmada.io",
            "v1alpha2",
            "ResourceBinding",
            "resourcebindings",
        ),
    )
}

pub fn works(client: Client) -> Api<DynamicObject> {
    Api::all_with(
        client,
        &resource("work.karmada.io", "v1alpha1", "Work", "works"),
    )
}

pub fn clusters(client: Client) -> Api<DynamicObject> {
    Api::all_with(client, &mcp_testenv::karmada::cluster_api_resource())
}

pub fn crds(client: Client) -> Api<DynamicObject> {
    Api::all_with(
        client,
        &resource(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
        ),
    )
}

/// `spec.placement.clusterAffinity.clusterNames` of a (Cluster)PropagationPolicy.
pub fn placement_clusters(policy: &DynamicObject) -> Vec<String> {
    policy.data["spec"]["placement"]["clusterAffinity"]["clusterNames"]
        .as_array()
        .map(|names| {
            names
                .iter()
                .filter_map(|n| n.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// `spec.clusters[].name` of a ResourceBinding, sorted.
pub fn binding_clusters(binding: &DynamicObject) -> Vec<String> {
    let mut names: Vec<String> = binding.data["spec"]["clusters"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter_map(|c| c["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

pub fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

/// The status conditions of `type`.
pub fn condition<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}
