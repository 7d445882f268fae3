//! The shared caches on a real control plane: a relist after a watch gap, objects our model
//! cannot decode, and a watch task that dies (the manager in this process).

#![forbid(unsafe_code)]

pub mod common;

use std::future::Future;
use std::time::Duration;

use common::proxy::Proxy;
use common::{ControllerOptions, Env, eventually};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::events::v1::Event;
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use mcp_interface::api::networking::{MultiClusterIngress, MultiClusterService};
use mcp_interface::api::work::ResourceBinding;
use mcp_testenv::ControlPlaneOptions;
use multicluster_provider::cli::{Cli, normalize};
use multicluster_provider::context::Caches;
use multicluster_provider::manager;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

/// MCI `<service>` with the one backend Service `<service>`.
fn mci(service: &str) -> String {
    format!(
        "apiVersion: networking.karmada.io/v1alpha1\nkind: MultiClusterIngress\nmetadata: {{name: {service}}}\nspec:\n  defaultBackend: {{service: {{name: {service}, port: {{number: 80}}}}}}\n"
    )
}

fn binding(service: &str, cluster: &str) -> String {
    format!(
        "apiVersion: work.karmada.io/v1alpha2\nkind: ResourceBinding\nmetadata: {{name: {service}-service}}\nspec:\n  resource: {{apiVersion: v1, kind: Service, name: {service}, namespace: default}}\n  clusters: [{{name: {cluster}}}]\n"
    )
}

fn locations(mci: &MultiClusterIngress) -> serde_json::Value {
    json!(
        mci.status
            .as_ref()
            .and_then(|s| s.service_locations.clone())
    )
}

/// The controller loses its watches (a proxy between it and the API server is cut); meanwhile
/// one binding moves and another is deleted, and etcd's history is compacted, so the watches
/// cannot resume (410 Gone) and list again. The relist must be announced once stored, and the
/// deleted binding as a deletion: the service locations of both MCIs then follow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relist_after_a_watch_gap_announces_changes_and_deletions() {
    let env = Env::start_with(ControlPlaneOptions {
        // Watches are served from etcd, whose compacted history they cannot resume from.
        extra_apiserver_args: vec!["--watch-cache=false".into()],
        ..ControlPlaneOptions::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    for service in ["serve", "api"] {
        env.apply(&mci(service), "default").await;
        env.apply(&binding(service, "member1"), "default").await;
    }
    let proxy = Proxy::start(env.server_address()).await;
    let mut controller = env.controller(
        ControllerOptions::new(dir.path())
            .with_kubeconfig(&env.kubeconfig_via(proxy.port, dir.path()))
            .arg("--controllers=mci-service-locations")
            .arg("--leader-elect=false"),
    );
    controller.wait_ready(WAIT).await;
    let mcis: Api<MultiClusterIngress> = Api::namespaced(env.client.clone(), "default");
    let wait_locations = |name: &'static str, want: serde_json::Value, what: &'static str| {
        let mcis = mcis.clone();
        async move {
            eventually(WAIT, what, || async {
                let mci = mcis.get(name).await.ok()?;
                (locations(&mci) == want).then_some(())
            })
            .await
        }
    };
    for service in ["serve", "api"] {
        let located = json!([{"name": service, "clusters": ["member1"]}]);
        wait_locations(service, located, "the service located on member1").await;
    }

    proxy.cut();
    let bindings: Api<ResourceBinding> = Api::namespaced(env.client.clone(), "default");
    bindings
        .patch(
            "serve-service",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"clusters": [{"name": "member2"}]}})),
        )
        .await
        .unwrap();
    bindings
        .delete("api-service", &DeleteParams::default())
        .await
        .unwrap();
    env.plane.compact_etcd().await.unwrap();
    proxy.restore();

    let moved = json!([{"name": "serve", "clusters": ["member2"]}]);
    wait_locations("serve", moved, "serve's location to follow its binding").await;
    let unbound = json!(null);
    wait_locations("api", unbound, "api's location to go with its binding").await;
    // The watches did list again (the deletion was not seen as a watch event).
    assert!(
        controller.logs().contains("vanished=1"),
        "{}",
        controller.logs()
    );
    controller.stop(WAIT).await;
}

/// An MCS status condition with a timestamp the CRD accepts (its `date-time` format checks
/// neither the offset's range nor the fraction's separator) but `metav1.Time` rejects: the MCS
/// is reported (warning, metric, Event) and skipped; every other MCS is served, and the
/// controller is ready. Once fixed, the MCS is served too.
#[tokio::test]
async fn an_object_our_model_cannot_decode_is_skipped_and_the_rest_served() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mcs = |name: &str| {
        format!(
            "apiVersion: networking.karmada.io/v1alpha1\nkind: MultiClusterService\nmetadata: {{name: {name}}}\nspec: {{types: [LoadBalancer], ports: [{{port: 80}}]}}\n"
        )
    };
    env.apply(&mcs("odd"), "default").await;
    env.apply(&mcs("good"), "default").await;
    let api: Api<MultiClusterService> = Api::namespaced(env.client.clone(), "default");
    let condition = |time: &str| json!({"status": {"conditions": [{"type": "ServiceApplied", "status": "True", "reason": "Applied", "message": "", "lastTransitionTime": time}]}});
    // Untyped: our own model could not read the answer.
    let untyped: Api<DynamicObject> = Api::namespaced_with(
        env.client.clone(),
        "default",
        &ApiResource::erase::<MultiClusterService>(&()),
    );
    let set_condition_time = |time: &'static str| {
        let untyped = untyped.clone();
        async move {
            let patch = Patch::Merge(condition(time));
            untyped
                .patch_status("odd", &PatchParams::default(), &patch)
                .await
        }
    };
    set_condition_time("2026-01-02T03:04:05+99:00")
        .await
        .expect("the CRD accepts the timestamp");

    let mut controller =
        env.controller(ControllerOptions::new(dir.path()).arg("--controllers=multiclusterservice"));
    controller.wait_ready(WAIT).await;
    let ip = |name: &'static str| {
        let api = api.clone();
        async move {
            eventually(WAIT, &format!("{name}'s address"), || async {
                let mcs = api.get(name).await.ok()?;
                let lb = mcs.status?.load_balancer?;
                lb.ingress?.first()?.ip.clone()
            })
            .await
        }
    };
    assert_eq!(ip("good").await, "1.2.3.4");
    let skipped = controller.metric_sum(
        "multicluster_provider_undecodable_objects_total",
        &[("kind", "MultiClusterService")],
    );
    assert!(skipped >= 1.0, "{}", controller.metrics());
    let logs = controller.logs();
    assert!(
        logs.lines()
            .any(|l| l.contains("skipped an object") && l.contains("odd") && l.contains("default")),
        "{logs}"
    );
    let events: Api<Event> = Api::namespaced(env.client.clone(), "default");
    eventually(WAIT, "a Warning Event on the skipped MCS", || async {
        let list = events.list(&ListParams::default()).await.ok()?;
        list.items
            .into_iter()
            .find(|e| {
                e.reason.as_deref() == Some("Undecodable")
                    && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("odd")
            })
            .map(|_| ())
    })
    .await;
    assert!(
        untyped
            .get("odd")
            .await
            .unwrap()
            .metadata
            .finalizers
            .is_none(),
        "the skipped MCS was acted on"
    );

    // Fixed, it is served like the others.
    set_condition_time("2026-01-02T03:04:05+09:00")
        .await
        .unwrap();
    assert_eq!(ip("odd").await, "1.2.3.4");
    controller.stop(WAIT).await;
}

/// The manager in this process (`manager::run_observed`), with the fake provider, the
/// multiclusteringress controller, probes on a free port and `args`; the IngressClass cache
/// gets a listener that panics on IngressClass `poison`. A listener runs on its cache's watch
/// task, so the panic ends that task as a bug in a listener would; the binary has no listener
/// that panics, and its watch streams retry rather than end, so a process cannot be made to
/// lose a watch task. Returns the manager's future and its health port.
fn poisoned_manager(
    env: &Env,
    args: &[&str],
) -> (impl Future<Output = anyhow::Result<()>> + use<>, u16) {
    let port = common::free_port();
    let fixed = [
        "multicluster-provider".to_owned(),
        "--cloud-provider=fake".to_owned(),
        format!("--provider-dir={}", common::fake_dir().display()),
        "--provider-ingress-class=karmada.io/fake".to_owned(),
        format!("--kubeconfig={}", env.kubeconfig().display()),
        "--controllers=multiclusteringress".to_owned(),
        "--bind-address=127.0.0.1".to_owned(),
        format!("--secure-port={port}"),
        "--metrics-bind-address=0".to_owned(),
    ];
    let argv = fixed.into_iter().chain(args.iter().map(|&a| a.to_owned()));
    let cli = <Cli as clap::Parser>::try_parse_from(normalize(argv.map(Into::into))).unwrap();
    let settings = cli.settings().unwrap();
    let poison = |caches: &Caches| {
        caches.ingress_classes().subscribe(|change| {
            let name = change.object().name_any();
            assert!(name != "poison", "a listener failed on IngressClass {name}");
        })
    };
    let manager = manager::run_observed(settings, std::future::pending(), poison);
    (manager, port)
}

/// `(status, body)` of the probe on `path`.
async fn probe(port: u16, path: &'static str) -> Option<(u16, String)> {
    tokio::task::spawn_blocking(move || common::http_get(port, path))
        .await
        .unwrap()
}

/// Runs `step` while `manager` runs; fails if the manager ends first.
async fn meanwhile<T>(
    manager: &mut std::pin::Pin<&mut impl Future<Output = anyhow::Result<()>>>,
    what: &str,
    step: impl Future<Output = T>,
) -> T {
    tokio::select! {
        result = manager.as_mut() => panic!("the manager ended ({result:?}) before {what}"),
        value = tokio::time::timeout(WAIT, step) => value.unwrap_or_else(|_| panic!("timed out waiting for {what}")),
    }
}

/// A watch task dies under the running `manager`, healthy until then on `port`: the IngressClass
/// `poison` arrives and its listener panics. The manager must return the error naming the kind
/// and the panic (the binary exits 1 with it), and `/healthz` and `/livez` answer 500 with it.
async fn poison_and_expect_exit(
    env: &Env,
    mut manager: std::pin::Pin<&mut impl Future<Output = anyhow::Result<()>>>,
    port: u16,
) {
    for path in ["/healthz", "/livez"] {
        let green = meanwhile(&mut manager, "the probe", probe(port, path)).await;
        assert_eq!(green, Some((200, "ok".to_owned())), "{path} before");
    }
    env.apply(
        "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: poison}\nspec: {controller: example.com/x}\n",
        "default",
    )
    .await;
    let error = tokio::time::timeout(WAIT, manager)
        .await
        .expect("the manager returns once the watch task died")
        .expect_err("the manager fails");
    let reason = "the watch of IngressClass stopped: it panicked: a listener failed on IngressClass poison; exiting so the Deployment restarts the controller";
    assert_eq!(error.to_string(), reason);
    // The probe server outlives the manager here; in the binary the process exits.
    for path in ["/healthz", "/livez"] {
        let red = probe(port, path).await;
        assert_eq!(red, Some((500, reason.to_owned())), "{path} after");
    }
}

/// A standby (another replica holds the Lease) whose watch task dies fails its probes and exits,
/// while it waits to lead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_whose_watch_task_dies_fails_its_probes_and_exits() {
    let env = Env::start().await;
    // Held for an hour as this replica sees it (expiry counts from its own first look).
    env.apply(
        "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {name: multicluster-controller-manager, namespace: karmada-system}\nspec: {holderIdentity: another-replica, leaseDurationSeconds: 3600}\n",
        "karmada-system",
    )
    .await;
    let (manager, port) = poisoned_manager(&env, &["--leader-elect=true"]);
    let mut manager = std::pin::pin!(manager);
    // Ready once the caches are synced: then it waits to lead.
    meanwhile(&mut manager, "the standby to be ready", async {
        while probe(port, "/readyz").await != Some((200, "ok".to_owned())) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let leases: Api<Lease> = Api::namespaced(env.client.clone(), "karmada-system");
    let lease = leases.get("multicluster-controller-manager").await.unwrap();
    assert_eq!(
        lease.spec.unwrap().holder_identity.as_deref(),
        Some("another-replica"),
        "still a standby"
    );
    poison_and_expect_exit(&env, manager, port).await;
}

/// The leader whose watch task dies fails its probes and exits, while its controllers run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_whose_watch_task_dies_fails_its_probes_and_exits() {
    let env = Env::start().await;
    env.apply(common::INGRESS_CLASS, "default").await;
    env.apply(&common::mci_yaml("web"), "default").await;
    let (manager, port) = poisoned_manager(&env, &["--leader-elect=false"]);
    let mut manager = std::pin::pin!(manager);
    // Its controllers run: the MCI gets its balancer.
    let mcis: Api<MultiClusterIngress> = Api::namespaced(env.client.clone(), "default");
    meanwhile(&mut manager, "the MCI's address", async {
        loop {
            let mci = mcis.get("web").await.unwrap();
            if common::mci_ip(&mci).is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    poison_and_expect_exit(&env, manager, port).await;
}
