//! The harness of the reconcile unit tests, as kube-rs's controller-rs tests its reconcile: no
//! cluster, a reconcile entry point called with one object and a [`Context`] whose parts are
//! watched.
//!
//! - [`ApiServerVerifier`]: the API server, over `tower_test::mock`. It holds the one object a
//!   test reconciles, answers the merge patches a reconcile sends as the API server would (a
//!   patch of the object leaves its status alone, one of `/status` touches the status only,
//!   `null` removes a field, a stale `resourceVersion` is a 409 Conflict, every write bumps the
//!   `resourceVersion`), and records every request for the test to assert on.
//! - [`Cloud`]: the real fake provider library, in memory (no `stateFile`), loaded through
//!   `mcp_loader` as the controller loads its provider, its faults set by the cloud-config;
//!   every call is recorded with its outcome.
//! - [`Harness`]: both, a capturing Event recorder and the caches a reconcile reads, in one
//!   [`Context`].

use std::ffi::OsString;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use clap::Parser;
use http::{Method, Request, Response, StatusCode};
use kube::Client;
use kube::Resource;
use kube::client::Body;
use kube::runtime::controller::Action;
use mcp_interface::api::networking::{MultiClusterIngress, MultiClusterService};
use mcp_loader::{CallOutcome, Library, Provider};
use mcp_provider_fake::ENSURED_IP;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::cli::{Cli, normalize};
use crate::context::{Caches, Context};
use crate::controllers::fixtures::deleting;
use crate::error::Result;
use crate::events::{Captured, EventType, Recorder};
use crate::metrics::Metrics;

/// One request the API server got.
#[derive(Debug, Clone, PartialEq)]
pub enum Sent {
    /// A merge patch of the object: the patch.
    Patch(Value),
    /// A merge patch of the object's `/status`: the patch.
    PatchStatus(Value),
    /// Anything else (no reconcile here sends it): method and path. Answered 404.
    Other(String, String),
}

struct Server {
    /// The path of the object (`/apis/.../namespaces/ns/<plural>/<name>`).
    path: String,
    object: Value,
    sent: Vec<Sent>,
}

impl Sent {
    /// The finalizer write: the list, with the `resourceVersion` it must apply to.
    pub fn finalizers(resource_version: &str, finalizers: &[&str]) -> Sent {
        let metadata = json!({"resourceVersion": resource_version, "finalizers": finalizers});
        Sent::Patch(json!({ "metadata": metadata }))
    }

    /// A status write of `fields`.
    pub fn status(fields: Value) -> Sent {
        Sent::PatchStatus(json!({ "status": fields }))
    }
}

/// A load balancer status (of a Service's or an Ingress's kind) with one address.
pub fn load_balancer(ip: &str) -> Value {
    json!({"ingress": [{"ip": ip}]})
}

/// The writes of a first reconcile of an object at resourceVersion 1: `finalizer` added, then
/// `status.loadBalancer` with the address the fake's `ensure` gives.
pub fn first_writes(finalizer: &str) -> Vec<Sent> {
    vec![
        Sent::finalizers("1", &[finalizer]),
        Sent::status(json!({ "loadBalancer": load_balancer(ENSURED_IP) })),
    ]
}

/// The API server of one object; see the module doc. Clones share it.
#[derive(Clone)]
pub struct ApiServerVerifier(Arc<Mutex<Server>>);

impl ApiServerVerifier {
    /// A client whose API server holds `object` (which must have a namespace, a name and a
    /// `resourceVersion`), served until the client is dropped.
    pub fn start<K>(object: &K) -> (Client, Self)
    where
        K: Resource<DynamicType = ()> + Serialize,
    {
        let path = format!(
            "{}/{}",
            K::url_path(&(), object.meta().namespace.as_deref()),
            object.meta().name.as_deref().unwrap_or_default()
        );
        assert!(
            object.meta().resource_version.is_some(),
            "no resourceVersion"
        );
        let verifier = ApiServerVerifier(Arc::new(Mutex::new(Server {
            path,
            object: serde_json::to_value(object).unwrap(),
            sent: Vec::new(),
        })));
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let server = verifier.clone();
        tokio::spawn(async move {
            while let Some((request, respond)) = handle.next_request().await {
                let (parts, body) = request.into_parts();
                let body = body.collect_bytes().await.unwrap();
                let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let merge = parts
                    .headers
                    .get(http::header::CONTENT_TYPE)
                    .is_some_and(|t| t == "application/merge-patch+json");
                respond.send_response(server.answer(&parts.method, parts.uri.path(), merge, body));
            }
        });
        (Client::new(service, "default"), verifier)
    }

    fn answer(&self, method: &Method, path: &str, merge: bool, body: Value) -> Response<Body> {
        let mut server = self.0.lock().unwrap();
        let patch = *method == Method::PATCH && merge;
        let sent = if patch && path == server.path {
            Sent::Patch(body)
        } else if patch && path.strip_suffix("/status") == Some(server.path.as_str()) {
            Sent::PatchStatus(body)
        } else {
            Sent::Other(method.to_string(), path.to_owned())
        };
        server.sent.push(sent.clone());
        let (patch, on_status) = match sent {
            Sent::Patch(patch) => (patch, false),
            Sent::PatchStatus(patch) => (patch, true),
            Sent::Other(..) => return reply(StatusCode::NOT_FOUND, status(404, "NotFound")),
        };
        let wanted = &patch["metadata"]["resourceVersion"];
        if wanted.is_string() && *wanted != server.object["metadata"]["resourceVersion"] {
            return reply(StatusCode::CONFLICT, status(409, "Conflict"));
        }
        let object = &mut server.object;
        if on_status {
            merge_patch(&mut object["status"], &patch["status"]);
        } else {
            let mut patch = patch;
            if let Some(fields) = patch.as_object_mut() {
                fields.remove("status");
            }
            merge_patch(object, &patch);
        }
        bump_resource_version(object);
        reply(StatusCode::OK, object.clone())
    }

    /// The requests sent since the last call.
    pub fn take(&self) -> Vec<Sent> {
        std::mem::take(&mut self.0.lock().unwrap().sent)
    }

    /// The object as the API server holds it now.
    pub fn object<K: DeserializeOwned>(&self) -> K {
        serde_json::from_value(self.0.lock().unwrap().object.clone()).unwrap()
    }

    /// Changes the object as a user would (a new `resourceVersion`); returns it as a watch
    /// would deliver it.
    pub fn edit<K: Serialize + DeserializeOwned>(&self, change: impl FnOnce(&mut K)) -> K {
        let mut object: K = self.object();
        change(&mut object);
        let mut server = self.0.lock().unwrap();
        server.object = serde_json::to_value(&object).unwrap();
        bump_resource_version(&mut server.object);
        drop(server);
        self.object()
    }

    /// Deletes the object as a user does (it has finalizers: it gets a deletion timestamp);
    /// returns it as a watch would deliver it.
    pub fn delete<K>(&self) -> K
    where
        K: Resource + Clone + Serialize + DeserializeOwned,
    {
        self.edit(|object: &mut K| *object = deleting(object.clone()))
    }
}

/// RFC 7386: what a JSON merge patch does to `target`.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(fields) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let Value::Object(target) = target else {
        unreachable!()
    };
    for (name, value) in fields {
        if value.is_null() {
            target.remove(name);
        } else {
            merge_patch(target.entry(name.clone()).or_insert(Value::Null), value);
        }
    }
}

fn bump_resource_version(object: &mut Value) {
    let version = &mut object["metadata"]["resourceVersion"];
    let next = version
        .as_str()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        + 1;
    *version = json!(next.to_string());
}

fn status(code: u16, reason: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
           "reason": reason, "message": reason})
}

fn reply(code: StatusCode, body: Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(&body).unwrap()))
        .unwrap()
}

/// The fake provider library, built (once per test process) and opened as the controller opens
/// its provider.
fn fake_library() -> Library {
    static LIBRARY: OnceLock<Library> = OnceLock::new();
    *LIBRARY.get_or_init(|| {
        let dir = mcp_testenv::fake_provider_dir().expect("building the fake provider");
        mcp_loader::open(&dir.join(mcp_loader::library_file_name("fake")))
            .expect("opening the fake provider")
    })
}

/// An instance of the fake provider, its balancers in memory.
pub struct Cloud {
    /// The handle the tests read the cloud with (its calls are not recorded).
    provider: Provider,
    /// The handle the controller calls, which records its calls.
    observed: Provider,
    calls: Arc<Mutex<Vec<String>>>,
}

impl Cloud {
    /// A fresh instance with `cloud_config` (the fake's YAML, e.g. its `faults`), as a provider
    /// without the backend view (`backendView: off`) unless the config says otherwise.
    pub fn fake(cloud_config: &str) -> Cloud {
        let cloud_config = if cloud_config.contains("backendView") {
            cloud_config.to_owned()
        } else {
            format!("{cloud_config}\nbackendView: off\n")
        };
        let provider = fake_library()
            .create(Some(cloud_config.as_bytes()))
            .expect("the fake provider's factory");
        let calls = Arc::new(Mutex::new(Vec::new()));
        let log = calls.clone();
        let observed = provider.with_observer(Arc::new(move |method, _, outcome| {
            let call = match outcome {
                CallOutcome::Ok => method.to_string(),
                CallOutcome::Err(label) => format!("{method}: {label}"),
            };
            log.lock().unwrap().push(call);
        }));
        Cloud {
            provider,
            observed,
            calls,
        }
    }

    /// The controller's calls are bounded by `timeout`.
    pub fn with_call_timeout(mut self, timeout: Duration) -> Cloud {
        self.observed = self.observed.with_call_timeout(timeout);
        self
    }

    /// The controller's calls since the last call: the method, and `: <label>` for a failure
    /// (`multiclusteringress_ensure: timeout`).
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.calls.lock().unwrap())
    }

    /// The addresses of the MCI's balancer, `None` when it has none.
    pub async fn mci_balancer(&self, mci: &MultiClusterIngress) -> Option<Value> {
        let status = self.provider.get(mci).await.unwrap();
        status.map(|s| serde_json::to_value(s).unwrap())
    }

    /// The backend view the fake kept for the MCI's balancer (its last ensure or update), read
    /// from its `stateFile` (the config must name one) by `mcp-fake-state` in a process of its
    /// own (a second SQLite in this process would break the fake's file locks).
    pub fn stored_view(state_file: &std::path::Path, key: &str) -> Option<Value> {
        let dir = mcp_testenv::fake_provider_dir().expect("building the fake provider");
        let out = std::process::Command::new(dir.join("mcp-fake-state"))
            .arg(state_file)
            .output()
            .expect("running mcp-fake-state");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let state: Value = serde_json::from_slice(&out.stdout).expect("mcp-fake-state's JSON");
        state["balancers"][key].get("backends").cloned()
    }

    /// The addresses of the MCS's balancer, `None` when it has none.
    pub async fn mcs_balancer(&self, mcs: &MultiClusterService) -> Option<Value> {
        let status = self.provider.get(mcs).await.unwrap();
        status.map(|s| serde_json::to_value(s).unwrap())
    }
}

/// The settings of a controller serving IngressClass controller `karmada.io/fake`.
fn settings() -> crate::settings::Settings {
    let args = [
        "multicluster-provider",
        "--cloud-provider=fake",
        "--provider-ingress-class=karmada.io/fake",
    ];
    let cli = Cli::try_parse_from(normalize(args.map(OsString::from))).unwrap();
    cli.settings().unwrap()
}

/// A reconcile's world: the API server of its object, the cloud, the Events it records.
pub struct Harness {
    pub ctx: Arc<Context>,
    pub api: ApiServerVerifier,
    pub cloud: Cloud,
    events: Captured,
}

impl Harness {
    /// `object` on the API server, `cloud` as the provider, `caches` as the caches.
    pub fn new<K>(object: &K, cloud: Cloud, caches: Caches) -> Harness
    where
        K: Resource<DynamicType = ()> + Serialize,
    {
        let (client, api) = ApiServerVerifier::start(object);
        let (recorder, events) = Recorder::capturing();
        let ctx = Context::new(
            client,
            cloud.observed.clone(),
            Arc::new(settings()),
            Arc::new(caches),
            Arc::new(Metrics::new()),
            recorder,
        );
        Harness {
            ctx: Arc::new(ctx),
            api,
            cloud,
            events,
        }
    }

    /// Reconciles `object` as `run_controller` does, with the entry point `reconcile`.
    pub async fn run<K, F>(
        &self,
        reconcile: impl FnOnce(Arc<K>, Arc<Context>) -> F,
        object: K,
    ) -> Result<Action>
    where
        F: Future<Output = Result<Action>>,
    {
        reconcile(Arc::new(object), self.ctx.clone()).await
    }

    /// Reconciles the object the API server holds, checks that the provider was called as
    /// `calls` says, and forgets what was recorded: the start of a test about an object
    /// already reconciled. Returns the object as the API server then holds it.
    pub async fn reconciled<K, F>(
        &mut self,
        reconcile: impl FnOnce(Arc<K>, Arc<Context>) -> F,
        calls: &[&str],
    ) -> K
    where
        K: DeserializeOwned,
        F: Future<Output = Result<Action>>,
    {
        self.run(reconcile, self.api.object()).await.unwrap();
        assert_eq!(self.cloud.take(), calls);
        self.api.take();
        self.events();
        self.api.object()
    }

    /// The Events recorded since the last call: `Normal <reason>` or `Warning <reason>:
    /// <message>` (only Warnings say what went wrong).
    pub fn events(&mut self) -> Vec<String> {
        self.events
            .take()
            .into_iter()
            .map(|(type_, reason, message)| match type_ {
                EventType::Normal => format!("Normal {reason}"),
                EventType::Warning => format!("Warning {reason}: {message}"),
            })
            .collect()
    }
}
