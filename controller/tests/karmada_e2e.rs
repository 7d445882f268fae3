//! End to end on **real Karmada v1.16**: Karmada's own API server (with aggregation),
//! kube-controller-manager, karmada-aggregated-apiserver, karmada-webhook, karmada-scheduler and
//! karmada-controller-manager, and member clusters joined in Push mode (testenv's Karmada mode).
//! Nothing Karmada-side is written by these tests: the Clusters, ResourceBindings, Works, MCS
//! conditions and what happens to our policies all come from Karmada's components.
//!
//! One Karmada environment and one controller (all five controllers, the fake provider with a
//! state file, the identity and RBAC of `deploy/karmada-rbac.yaml`) serve every test of this
//! binary; each test works in its own namespace (the seed walkthrough in `default`, as the seed
//! does) and adds its own member clusters when it needs to break one. The one test that stops
//! the controller (garbage collection) takes [`exclusive`]; every other test holds
//! [`shared_lock`].

pub mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{DEPLOY_RBAC, PROVIDER_USER, eventually, fake_dir, http_get};
use k8s_openapi::api::core::v1::{Namespace, Service};
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Client, ResourceExt};
use mcp_interface::api::networking::{MultiClusterIngress, MultiClusterService};
use mcp_testenv::{KarmadaEnv, KarmadaOptions, Supervised};
use serde_json::{Value, json};
use tokio::sync::{OnceCell, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// How long anything Karmada does may take here (a loaded 2-core machine).
const WAIT: Duration = Duration::from_secs(120);

const MCI_FINALIZER: &str = "karmada.io/multi-cluster-ingress-controller";
const MCS_FINALIZER: &str = "karmada.io/multi-cluster-service-controller";
const CRD_POLICY: &str = "serviceexportpropagation-policy";
const SERVICE_EXPORT_CRD: &str = "serviceexports.multicluster.x-k8s.io";

/// The Karmada environment and the controller under test, shared by the tests of this binary.
struct Shared {
    env: KarmadaEnv,
    dir: PathBuf,
    /// The fake cloud's state file.
    state: PathBuf,
    /// The controller's own kubeconfig (user `multicluster-provider` with the deploy RBAC).
    kubeconfig: PathBuf,
    controller: std::sync::Mutex<Option<Controller>>,
}

struct Controller {
    process: Supervised,
    health_port: u16,
}

static SHARED: OnceCell<Shared> = OnceCell::const_new();
static CONTROLLER_LOCK: RwLock<()> = RwLock::const_new(());

async fn shared() -> &'static Shared {
    SHARED
        .get_or_init(|| async {
            let env = KarmadaEnv::start(KarmadaOptions {
                extra_users: vec![(PROVIDER_USER.to_owned(), Vec::new())],
                ..KarmadaOptions::default()
            })
            .await
            .unwrap_or_else(|e| panic!("starting Karmada: {e}"));
            eprintln!("{}", env.startup_report());
            let client = env.karmada_client().await.unwrap();
            mcp_testenv::apply_yaml(
                &client,
                DEPLOY_RBAC,
                "deploy/karmada-rbac.yaml",
                "karmada-system",
            )
            .await
            .unwrap();
            mcp_testenv::apply_yaml(&client, common::INGRESS_CLASS, "examples", "default")
                .await
                .unwrap();
            let kubeconfig = env.karmada().kubeconfig_path_for(PROVIDER_USER).unwrap();
            // Inside the environment's directory: removed with it when the test binary exits.
            let dir = env.dir().join("controller");
            std::fs::create_dir_all(&dir).unwrap();
            let state = dir.join("fake-cloud.db");
            let shared = Shared {
                env,
                state,
                kubeconfig,
                dir,
                controller: std::sync::Mutex::new(None),
            };
            shared.start_controller().await;
            shared
        })
        .await
}

/// Every test but the garbage-collection one: the controller runs while the guard lives.
async fn shared_lock() -> (&'static Shared, RwLockReadGuard<'static, ()>) {
    let guard = CONTROLLER_LOCK.read().await;
    (shared().await, guard)
}

/// The garbage-collection test: no other test runs while it stops the controller.
async fn exclusive() -> (&'static Shared, RwLockWriteGuard<'static, ()>) {
    let guard = CONTROLLER_LOCK.write().await;
    (shared().await, guard)
}

impl Shared {
    async fn start_controller(&self) {
        static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let port = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        };
        let (health_port, metrics_port) = (port(), port());
        let config = self.dir.join("cloud-config.yaml");
        std::fs::write(&config, format!("stateFile: {}\n", self.state.display())).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_multicluster-provider"));
        command
            .arg("--cloud-provider=fake")
            .arg("--provider-dir")
            .arg(fake_dir())
            .arg("--provider-ingress-class=karmada.io/fake")
            .arg("--cloud-config")
            .arg(&config)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--secure-port={health_port}"))
            .arg(format!("--metrics-bind-address=127.0.0.1:{metrics_port}"))
            .arg("--v=4")
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        let log = self.dir.join(format!("controller-{n}.log"));
        let process = Supervised::spawn("multicluster-provider", command, &log).unwrap();
        let ready = eventually(WAIT, "the controller to be ready", || async {
            if let Some(status) = process.exit_status() {
                return Some(Err(status));
            }
            matches!(http_get(health_port, "/readyz"), Some((200, _))).then_some(Ok(()))
        })
        .await;
        if let Err(status) = ready {
            panic!(
                "the controller exited ({status}):\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        *self.controller.lock().unwrap() = Some(Controller {
            process,
            health_port,
        });
    }

    async fn stop_controller(&self) {
        let controller = self.controller.lock().unwrap().take();
        if let Some(controller) = controller {
            let status = controller.process.terminate(Duration::from_secs(30)).await;
            assert!(
                status.is_some_and(|s| s.success()),
                "the controller did not exit cleanly on SIGTERM ({status:?})"
            );
        }
    }

    /// The controller's log so far (for failure messages).
    fn controller_log(&self) -> String {
        let guard = self.controller.lock().unwrap();
        guard
            .as_ref()
            .map(|c| std::fs::read_to_string(c.process.log_path()).unwrap_or_default())
            .unwrap_or_default()
    }

    /// Panics (with every log) unless Karmada's processes and the controller still run.
    fn check_health(&self) {
        if let Err(error) = self.env.check_health() {
            panic!("the Karmada environment failed: {error}");
        }
        let guard = self.controller.lock().unwrap();
        if let Some(controller) = guard.as_ref() {
            if let Some(status) = controller.process.exit_status() {
                panic!(
                    "the controller exited ({status}):\n{}",
                    std::fs::read_to_string(controller.process.log_path()).unwrap_or_default()
                );
            }
            assert!(
                matches!(http_get(controller.health_port, "/healthz"), Some((200, _))),
                "the controller is not healthy"
            );
        }
    }

    async fn karmada(&self) -> Client {
        self.env.karmada_client().await.unwrap()
    }

    async fn member(&self, name: &str) -> Client {
        self.env.member_client(name).await.unwrap()
    }

    /// Creates a namespace on the Karmada API server for one test.
    async fn namespace(&self, name: &str) -> String {
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

    async fn apply(&self, yaml: &str, namespace: &str) {
        let client = self.karmada().await;
        mcp_testenv::apply_yaml(&client, yaml, "test", namespace)
            .await
            .unwrap_or_else(|e| panic!("apply failed: {e}\n{yaml}"));
    }

    /// Like [`eventually`], but a timeout also prints the controller's log and checks that
    /// nothing died.
    async fn eventually<T, F, Fut>(&self, what: &str, check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        self.check_health();
        let outcome = tokio::time::timeout(WAIT + Duration::from_secs(5), async {
            eventually(WAIT, what, check).await
        })
        .await;
        match outcome {
            Ok(value) => value,
            Err(_) => panic!(
                "timed out waiting for {what}; controller log:\n{}",
                self.controller_log()
            ),
        }
    }

    /// How many calls of `method` (`mci_update`, `mcs_ensure`, ...) for `<ns>/<name>` the fake
    /// cloud has served.
    fn cloud_calls(&self, method: &str, object: &str) -> usize {
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

    /// The fake cloud's balancers (keys `mci/<ns>/<name>`, `mcs/<ns>/<name>`).
    fn balancers(&self) -> Vec<String> {
        common::fake_state(&self.state)["balancers"]
            .as_object()
            .map(|b| b.keys().cloned().collect())
            .unwrap_or_default()
    }
}

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

fn service_exports(client: Client, namespace: &str) -> Api<DynamicObject> {
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

fn propagation_policies(client: Client, namespace: &str) -> Api<DynamicObject> {
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

fn cluster_propagation_policies(client: Client) -> Api<DynamicObject> {
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

fn resource_bindings(client: Client, namespace: &str) -> Api<DynamicObject> {
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

fn works(client: Client) -> Api<DynamicObject> {
    Api::all_with(
        client,
        &resource("work.karmada.io", "v1alpha1", "Work", "works"),
    )
}

fn clusters(client: Client) -> Api<DynamicObject> {
    Api::all_with(client, &mcp_testenv::karmada::cluster_api_resource())
}

fn crds(client: Client) -> Api<DynamicObject> {
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
fn placement_clusters(policy: &DynamicObject) -> Vec<String> {
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
fn binding_clusters(binding: &DynamicObject) -> Vec<String> {
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

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

/// The status conditions of `type`.
fn condition<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

/// The seed's application (Deployment, Service and PropagationPolicy `serve` on member1 and
/// member2), for a namespace of a test's own.
const APPLICATION: &str = include_str!("../../examples/application.yaml");
const MCI: &str = include_str!("../../examples/mci.yaml");

/// 1. The seed walkthrough on real Karmada: only the seed's files are applied; Karmada's
///    detector and scheduler make the ResourceBinding, our controllers the rest; the ServiceExport
///    and its CRD reach both members.
#[tokio::test]
async fn seed_walkthrough() {
    let (s, _guard) = shared_lock().await;
    let karmada = s.karmada().await;
    // The seed's order: the MCI first, then the application.
    s.apply(MCI, "default").await;
    s.apply(APPLICATION, "default").await;

    let mcis: Api<MultiClusterIngress> = Api::namespaced(karmada.clone(), "default");
    let mci = s
        .eventually("the MCI's address and service locations", || async {
            let mci = mcis.get("minimal-ingress").await.ok()?;
            let status = mci.status.as_ref()?;
            common::mci_ip(&mci)?;
            let locations = status.service_locations.as_ref()?;
            (locations.len() == 1 && locations[0].clusters.as_ref()?.len() == 2).then_some(mci)
        })
        .await;
    assert_eq!(mci.finalizers(), [MCI_FINALIZER.to_owned()]);
    let ip = common::mci_ip(&mci).unwrap();
    assert!(
        ip == "1.2.3.4" || ip == "1.2.3.5",
        "the fake hands out 1.2.3.4 (ensure) or 1.2.3.5 (update), not {ip}"
    );
    let locations = mci
        .status
        .as_ref()
        .unwrap()
        .service_locations
        .clone()
        .unwrap();
    assert_eq!(locations.len(), 1);
    assert_eq!(locations[0].name, "serve");
    assert_eq!(
        locations[0].clusters.clone().unwrap(),
        strings(&["member1", "member2"])
    );
    assert!(
        s.balancers()
            .contains(&"mci/default/minimal-ingress".to_owned())
    );

    // Karmada's own ResourceBinding for the Service, owned by it, placed by the scheduler.
    let binding = resource_bindings(karmada.clone(), "default")
        .get("serve-service")
        .await
        .unwrap();
    assert_eq!(binding_clusters(&binding), strings(&["member1", "member2"]));
    let owner = &binding.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("Service", "serve")
    );
    // Karmada v1.16 names the claiming policy in annotations (labels carry permanent ids).
    assert_eq!(
        binding
            .annotations()
            .get("propagationpolicy.karmada.io/name")
            .map(String::as_str),
        Some("mcs-workload")
    );

    // Ours on the Karmada API server: the ServiceExport and its policy, owned by the Service.
    let service = Api::<Service>::namespaced(karmada.clone(), "default")
        .get("serve")
        .await
        .unwrap();
    let export = service_exports(karmada.clone(), "default")
        .get("serve")
        .await
        .unwrap();
    let policy = s
        .eventually("propagate-service-serve on member1 and member2", || async {
            let policy = propagation_policies(karmada.clone(), "default")
                .get("propagate-service-serve")
                .await
                .ok()?;
            (placement_clusters(&policy) == strings(&["member1", "member2"])).then_some(policy)
        })
        .await;
    for object in [&export, &policy] {
        let owner = &object.owner_references()[0];
        assert_eq!(owner.uid, service.uid().unwrap());
        assert_eq!(owner.controller, Some(true));
    }

    // The ServiceExport CRD, through our ClusterPropagationPolicy, and the ServiceExport itself,
    // through our PropagationPolicy, in both members.
    let cpp = cluster_propagation_policies(karmada.clone())
        .get(CRD_POLICY)
        .await
        .unwrap();
    let cpp_clusters = placement_clusters(&cpp);
    assert!(
        cpp_clusters.contains(&"member1".to_owned())
            && cpp_clusters.contains(&"member2".to_owned()),
        "{CRD_POLICY} places {cpp_clusters:?}"
    );
    for member in ["member1", "member2"] {
        let client = s.member(member).await;
        s.eventually(&format!("the ServiceExport CRD in {member}"), || async {
            crds(client.clone())
                .get_opt(SERVICE_EXPORT_CRD)
                .await
                .ok()?
        })
        .await;
        s.eventually(
            &format!("ServiceExport default/serve in {member}"),
            || async {
                service_exports(client.clone(), "default")
                    .get_opt("serve")
                    .await
                    .ok()?
            },
        )
        .await;
    }
}

/// The seed's application in namespace `ns`, placed on `clusters`, with the seed's MCI.
async fn deploy_application(s: &Shared, ns: &str) {
    s.apply(APPLICATION, ns).await;
    s.apply(MCI, ns).await;
}

/// 2. The application's PropagationPolicy moved to member1 only: the service locations, our
///    policy and the member2 ServiceExport follow.
#[tokio::test]
async fn placement_change_follows_the_binding() {
    let (s, _guard) = shared_lock().await;
    let ns = s.namespace("e2e-placement").await;
    let karmada = s.karmada().await;
    deploy_application(s, &ns).await;
    let member2 = s.member("member2").await;
    s.eventually("ServiceExport serve in member2", || async {
        service_exports(member2.clone(), &ns)
            .get_opt("serve")
            .await
            .ok()?
    })
    .await;

    propagation_policies(karmada.clone(), &ns)
        .patch(
            "mcs-workload",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"placement": {
                "clusterAffinity": {"clusterNames": ["member1"]},
                "replicaScheduling": null,
            }}})),
        )
        .await
        .unwrap();

    let mcis: Api<MultiClusterIngress> = Api::namespaced(karmada.clone(), &ns);
    s.eventually("serviceLocations [member1]", || async {
        let mci = mcis.get("minimal-ingress").await.ok()?;
        let locations = mci.status?.service_locations?;
        (locations.len() == 1 && locations[0].clusters.as_deref() == Some(&strings(&["member1"])))
            .then_some(())
    })
    .await;
    s.eventually("propagate-service-serve on member1 only", || async {
        let policy = propagation_policies(karmada.clone(), &ns)
            .get("propagate-service-serve")
            .await
            .ok()?;
        (placement_clusters(&policy) == strings(&["member1"])).then_some(())
    })
    .await;
    s.eventually("ServiceExport serve gone from member2", || async {
        service_exports(member2.clone(), &ns)
            .get_opt("serve")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
    let member1 = s.member("member1").await;
    assert!(
        service_exports(member1, &ns)
            .get_opt("serve")
            .await
            .unwrap()
            .is_some(),
        "the ServiceExport stays in member1"
    );
}

/// 3. MultiClusterServices next to Karmada's own MCS controller. On Karmada v1.16 the two never
///    serve the same MCS: Karmada's webhook refuses an MCS with two types (`[LoadBalancer,
///    CrossCluster]`) and any change of `spec.types`, and Karmada's MCS controller (behind the
///    `MultiClusterService` gate) handles `CrossCluster` MCSs only, ours `LoadBalancer` ones. So:
///    each leaves the other's MCSs alone across several reconciles of each, and our status
///    writes keep a condition Karmada (or anyone) put on our MCS.
#[tokio::test]
async fn multiclusterservice_types_and_karmada_conditions() {
    let (s, _guard) = shared_lock().await;
    let ns = s.namespace("e2e-mcs").await;
    let karmada = s.karmada().await;
    s.apply(APPLICATION, &ns).await;
    s.apply(
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}], selector: {app: serve}}\n",
        &ns,
    )
    .await;
    let mcss: Api<MultiClusterService> = Api::namespaced(karmada.clone(), &ns);
    let mcs = |name: &str, types: &[&str]| -> MultiClusterService {
        serde_json::from_value(json!({
            "apiVersion": "networking.karmada.io/v1alpha1",
            "kind": "MultiClusterService",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"types": types, "ports": [{"port": 80}]},
        }))
        .unwrap()
    };
    let services: Api<Service> = Api::namespaced(karmada.clone(), &ns);
    let mut port = 80;
    let mut touch_service = |name: &'static str| {
        port += 1;
        let services = services.clone();
        async move {
            services
                .patch(
                    name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"spec": {"ports": [{"name": "http", "port": port, "targetPort": 8080}]}})),
                )
                .await
                .unwrap();
        }
    };

    // Both types at once: refused by Karmada's validating webhook, so nothing is created.
    let refused = mcss
        .create(
            &PostParams::default(),
            &mcs("serve", &["LoadBalancer", "CrossCluster"]),
        )
        .await
        .expect_err("Karmada v1.16 refuses an MCS with two types");
    assert!(
        refused
            .to_string()
            .contains("should not contain more than one type"),
        "{refused}"
    );

    // CrossCluster: Karmada's MCS controller writes its condition; ours keeps out (no finalizer,
    // no load balancer status, no cloud call), across several of Karmada's reconciles (each
    // Service change is one; Karmada records an Event `SyncServiceSucceed` per reconcile).
    mcss.create(&PostParams::default(), &mcs("serve", &["CrossCluster"]))
        .await
        .unwrap();
    let karmada_only = || async {
        let mcs = mcss.get("serve").await.ok()?;
        let value = serde_json::to_value(&mcs).ok()?;
        let ours_absent = value["status"]["loadBalancer"]["ingress"].is_null()
            && !mcs.finalizers().iter().any(|f| f == MCS_FINALIZER);
        let applied = condition(&value, "ServiceApplied")?;
        (ours_absent && applied["status"] == "True").then_some(())
    };
    s.eventually("Karmada's ServiceApplied condition", karmada_only)
        .await;
    for _ in 0..2 {
        let before = karmada_reconciles(&karmada, &ns).await;
        touch_service("serve").await;
        s.eventually("another reconcile by Karmada's MCS controller", || async {
            (karmada_reconciles(&karmada, &ns).await > before).then_some(())
        })
        .await;
        s.eventually("Karmada's condition alone", karmada_only)
            .await;
    }
    let serve = format!("{ns}/serve");
    for method in ["mcs_get", "mcs_ensure", "mcs_update", "mcs_ensure_deleted"] {
        assert_eq!(
            s.cloud_calls(method, &serve),
            0,
            "{method} for a CrossCluster MCS"
        );
    }

    // Nor can an MCS change type.
    let immutable = mcss
        .patch(
            "serve",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"types": ["LoadBalancer"]}})),
        )
        .await
        .expect_err("Karmada v1.16 refuses a change of an MCS's types");
    assert!(immutable.to_string().contains("immutable"), "{immutable}");

    // LoadBalancer: ours provisions it and Karmada's controller ignores it. A condition on it
    // (here Karmada's own, copied over, as any other writer of the status would leave one)
    // survives our status writes, across several of our reconciles (a Service change is one:
    // an `update` call to the cloud).
    mcss.create(&PostParams::default(), &mcs("web", &["LoadBalancer"]))
        .await
        .unwrap();
    let web = format!("{ns}/web");
    s.eventually("our load balancer on the LoadBalancer MCS", || async {
        let mcs = mcss.get("web").await.ok()?;
        let value = serde_json::to_value(&mcs).ok()?;
        value["status"]["loadBalancer"]["ingress"][0]["ip"].as_str()?;
        (mcs.finalizers() == [MCS_FINALIZER.to_owned()]).then_some(())
    })
    .await;
    let serve_value = serde_json::to_value(mcss.get("serve").await.unwrap()).unwrap();
    let karmada_condition = condition(&serve_value, "ServiceApplied").unwrap().clone();
    mcss.patch_status(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"conditions": [karmada_condition.clone()]}})),
    )
    .await
    .unwrap();
    for _ in 0..3 {
        let before = s.cloud_calls("mcs_update", &web);
        touch_service("web").await;
        s.eventually("another reconcile by ours", || async {
            (s.cloud_calls("mcs_update", &web) > before).then_some(())
        })
        .await;
        s.eventually("our address beside the condition", || async {
            let value = serde_json::to_value(mcss.get("web").await.ok()?).ok()?;
            let ip = value["status"]["loadBalancer"]["ingress"][0]["ip"].as_str()?;
            (ip == "1.2.3.5" && condition(&value, "ServiceApplied") == Some(&karmada_condition))
                .then_some(())
        })
        .await;
    }
    s.eventually(
        "Karmada's condition still alone on the CrossCluster MCS",
        karmada_only,
    )
    .await;
}

/// How many reconciles Karmada's MCS controller reported for MCS `<ns>/serve` (the counts of its
/// `SyncServiceSucceed` Events).
async fn karmada_reconciles(karmada: &Client, ns: &str) -> i64 {
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(karmada.clone(), ns);
    events
        .list(&Default::default())
        .await
        .map(|list| {
            list.items
                .iter()
                .filter(|e| {
                    e.reason.as_deref() == Some("SyncServiceSucceed")
                        && e.involved_object.kind.as_deref() == Some("MultiClusterService")
                })
                .map(|e| e.count.unwrap_or(1).max(1) as i64)
                .sum()
        })
        .unwrap_or(0)
}

/// 4. A member cluster unjoined (its Cluster deleted): our ClusterPropagationPolicy drops it.
#[tokio::test]
async fn unjoined_cluster_leaves_the_crd_policy() {
    let (s, _guard) = shared_lock().await;
    let karmada = s.karmada().await;
    s.env.add_member("member3").await.unwrap();
    let cpps = cluster_propagation_policies(karmada.clone());
    s.eventually("member3 in the ServiceExport CRD policy", || async {
        let cpp = cpps.get(CRD_POLICY).await.ok()?;
        placement_clusters(&cpp)
            .contains(&"member3".to_owned())
            .then_some(())
    })
    .await;
    let member3 = s.member("member3").await;
    s.eventually("the ServiceExport CRD in member3", || async {
        crds(member3.clone())
            .get_opt(SERVICE_EXPORT_CRD)
            .await
            .ok()?
    })
    .await;

    // Karmada removes a Cluster only once its execution space and every binding have let go of
    // it, re-checking every 10 s: on a loaded machine that takes a few rounds.
    s.env
        .unjoin_member("member3", Duration::from_secs(300))
        .await
        .unwrap();
    let cpp = s
        .eventually("member3 dropped from the CRD policy", || async {
            let cpp = cpps.get(CRD_POLICY).await.ok()?;
            (!placement_clusters(&cpp).contains(&"member3".to_owned())).then_some(cpp)
        })
        .await;
    let remaining = placement_clusters(&cpp);
    assert!(
        remaining.contains(&"member1".to_owned()) && remaining.contains(&"member2".to_owned()),
        "{remaining:?}"
    );
    s.env.stop_member("member3").unwrap();
}

/// 5. Deleting the MCI, the MCS and the Service leaves nothing behind: no ServiceExport, policy,
///    binding or Work on Karmada, no ServiceExport or Service in the members, no balancer in the
///    fake cloud.
#[tokio::test]
async fn deletion_leaves_nothing_behind() {
    let (s, _guard) = shared_lock().await;
    let ns = s.namespace("e2e-delete").await;
    let karmada = s.karmada().await;
    deploy_application(s, &ns).await;
    s.apply(
        &format!(
            "apiVersion: networking.karmada.io/v1alpha1\nkind: MultiClusterService\nmetadata:\n  name: serve\n  namespace: {ns}\nspec:\n  types: [LoadBalancer]\n  ports: [{{port: 80}}]\n"
        ),
        &ns,
    )
    .await;
    let members = [s.member("member1").await, s.member("member2").await];
    for member in &members {
        s.eventually("the ServiceExport in the member", || async {
            service_exports(member.clone(), &ns)
                .get_opt("serve")
                .await
                .ok()?
        })
        .await;
    }
    let mci_key = format!("mci/{ns}/minimal-ingress");
    let mcs_key = format!("mcs/{ns}/serve");
    s.eventually("both balancers in the fake cloud", || async {
        let balancers = s.balancers();
        (balancers.contains(&mci_key) && balancers.contains(&mcs_key)).then_some(())
    })
    .await;

    let background = DeleteParams::background();
    Api::<MultiClusterIngress>::namespaced(karmada.clone(), &ns)
        .delete("minimal-ingress", &background)
        .await
        .unwrap();
    Api::<MultiClusterService>::namespaced(karmada.clone(), &ns)
        .delete("serve", &background)
        .await
        .unwrap();
    Api::<Service>::namespaced(karmada.clone(), &ns)
        .delete("serve", &background)
        .await
        .unwrap();

    s.eventually(
        "nothing left on Karmada, the members or the cloud",
        || async {
            let exports = service_exports(karmada.clone(), &ns)
                .list(&Default::default())
                .await
                .ok()?;
            let policies = propagation_policies(karmada.clone(), &ns)
                .list(&Default::default())
                .await
                .ok()?;
            let ours = policies
                .items
                .iter()
                .filter(|p| p.name_any().starts_with("propagate-service-"))
                .count();
            let bindings = resource_bindings(karmada.clone(), &ns)
                .list(&Default::default())
                .await
                .ok()?;
            let stale_bindings = bindings
                .items
                .iter()
                .filter(|b| b.name_any() != "serve-deployment")
                .count();
            let all_works = works(karmada.clone())
                .list(&Default::default())
                .await
                .ok()?;
            let stale_works = all_works
                .items
                .iter()
                .filter(|w| {
                    let annotations = w.annotations();
                    annotations
                        .get("resourcebinding.karmada.io/namespace")
                        .map(String::as_str)
                        == Some(ns.as_str())
                        && annotations
                            .get("resourcebinding.karmada.io/name")
                            .map(String::as_str)
                            != Some("serve-deployment")
                })
                .count();
            let mut in_members = 0;
            for member in &members {
                in_members += service_exports(member.clone(), &ns)
                    .list(&Default::default())
                    .await
                    .ok()?
                    .items
                    .len();
                in_members += Api::<Service>::namespaced(member.clone(), &ns)
                    .get_opt("serve")
                    .await
                    .ok()?
                    .iter()
                    .count();
            }
            let balancers = s.balancers();
            let in_cloud = balancers.contains(&mci_key) || balancers.contains(&mcs_key);
            (exports.items.is_empty()
                && ours == 0
                && stale_bindings == 0
                && stale_works == 0
                && in_members == 0
                && !in_cloud)
                .then_some(())
        },
    )
    .await;
}

/// 6. A member cluster's API server stopped: Karmada marks its Cluster not Ready, and our
///    controllers keep serving everything else.
#[tokio::test]
async fn stopped_member_turns_not_ready_and_the_rest_is_served() {
    let (s, _guard) = shared_lock().await;
    let karmada = s.karmada().await;
    s.env.add_member("member4").await.unwrap();
    let cpps = cluster_propagation_policies(karmada.clone());
    s.eventually("member4 in the CRD policy", || async {
        let cpp = cpps.get(CRD_POLICY).await.ok()?;
        placement_clusters(&cpp)
            .contains(&"member4".to_owned())
            .then_some(())
    })
    .await;

    s.env.stop_member("member4").unwrap();
    let all_clusters = clusters(karmada.clone());
    s.eventually("Cluster member4 not Ready", || async {
        let cluster = all_clusters.get("member4").await.ok()?;
        let ready = condition(&cluster.data, "Ready")?;
        (ready["status"] != "True").then_some(())
    })
    .await;

    // Everything else is still served: a new application and MCI get their address, service
    // locations and ServiceExports in the live members; the CRD policy keeps the dead member
    // (it tolerates the not-ready taint, as Go's does).
    let ns = s.namespace("e2e-member-down").await;
    deploy_application(s, &ns).await;
    let mcis: Api<MultiClusterIngress> = Api::namespaced(karmada.clone(), &ns);
    s.eventually("the new MCI served while member4 is down", || async {
        let mci = mcis.get("minimal-ingress").await.ok()?;
        common::mci_ip(&mci)?;
        let locations = mci.status?.service_locations?;
        (locations.first()?.clusters.as_deref() == Some(&strings(&["member1", "member2"])))
            .then_some(())
    })
    .await;
    let member1 = s.member("member1").await;
    s.eventually("its ServiceExport in member1", || async {
        service_exports(member1.clone(), &ns)
            .get_opt("serve")
            .await
            .ok()?
    })
    .await;
    let cpp = cpps.get(CRD_POLICY).await.unwrap();
    assert!(placement_clusters(&cpp).contains(&"member4".to_owned()));
    s.check_health();
}

/// Karmada's garbage collector (kube-controller-manager) removes our ServiceExport and policy
/// when their Service goes while our controller is down: the ownerReferences are right.
#[tokio::test]
async fn garbage_collector_removes_what_a_deleted_service_owned() {
    let (s, _guard) = exclusive().await;
    let ns = s.namespace("e2e-gc").await;
    let karmada = s.karmada().await;
    deploy_application(s, &ns).await;
    let exports = service_exports(karmada.clone(), &ns);
    let policies = propagation_policies(karmada.clone(), &ns);
    s.eventually("our ServiceExport and policy", || async {
        exports.get_opt("serve").await.ok()??;
        policies.get_opt("propagate-service-serve").await.ok()?
    })
    .await;

    s.stop_controller().await;
    Api::<Service>::namespaced(karmada.clone(), &ns)
        .delete("serve", &DeleteParams::background())
        .await
        .unwrap();
    let gone = eventually(WAIT, "the garbage collector to delete them", || async {
        let export = exports.get_opt("serve").await.ok()?;
        let policy = policies.get_opt("propagate-service-serve").await.ok()?;
        (export.is_none() && policy.is_none()).then_some(())
    })
    .await;
    s.start_controller().await;
    gone
}
