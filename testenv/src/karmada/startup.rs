//! Bringing a [`KarmadaEnv`] up: Karmada's components started on free ports (again on new
//! ports after a port clash) and registered, the members joined, each step waited for and
//! timed ([`StartupReport`]).

use std::time::{Duration, Instant};

use kube::Client;
use kube::api::{Api, DynamicObject};

use super::{KarmadaEnv, KarmadaOptions, Pki, client_from_yaml, cluster_api_resource};
use super::{components, install, member};
use crate::error::{Error, Result};

/// How long each phase of [`KarmadaEnv::start`] took.
#[derive(Debug, Clone, Default)]
pub struct StartupReport {
    /// (phase, duration), in order.
    pub phases: Vec<(String, Duration)>,
    /// From the call to ready.
    pub total: Duration,
}

impl std::fmt::Display for StartupReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "Karmada mode ready in {:.1} s:",
            self.total.as_secs_f64()
        )?;
        for (phase, took) in &self.phases {
            writeln!(f, "  {phase:<52} {:>6.1} s", took.as_secs_f64())?;
        }
        Ok(())
    }
}

/// Records how long each phase takes.
pub(super) struct Phases {
    started: Instant,
    last: Instant,
    report: StartupReport,
}

impl Phases {
    pub(super) fn new() -> Self {
        let now = Instant::now();
        Self {
            started: now,
            last: now,
            report: StartupReport::default(),
        }
    }

    pub(super) fn done(&mut self, phase: impl Into<String>) {
        let now = Instant::now();
        let phase = phase.into();
        tracing::info!(phase, took = ?now - self.last, "Karmada mode: step done");
        self.report.phases.push((phase, now - self.last));
        self.last = now;
    }

    fn finish(mut self) -> StartupReport {
        self.report.total = self.started.elapsed();
        self.report
    }
}

impl KarmadaEnv {
    pub(super) async fn bring_up(
        &self,
        pki: &Pki,
        options: &KarmadaOptions,
        mut phases: Phases,
    ) -> Result<StartupReport> {
        let deadline = Instant::now() + options.start_timeout;
        let client = self.karmada.admin_client().await?;
        // A port picked free may be taken by another process before the component binds it:
        // the component exits with "address already in use", and they all start again on new
        // ports (what registers them is applied again, with the new ones).
        let mut attempt = 1;
        loop {
            match self
                .start_components(&client, pki, options, deadline, &mut phases)
                .await
            {
                Ok(()) => break,
                Err(error)
                    if attempt < crate::control_plane::PORT_CLASH_RETRIES
                        && matches!(self.components.check(), Err(Error::PortInUse { .. })) =>
                {
                    tracing::warn!(
                        attempt,
                        "port clash, restarting Karmada's components on new ports: {error}"
                    );
                    self.components.reset();
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }

        let names = self.member_names();
        for name in &names {
            self.join(&client, name).await?;
        }
        for name in &names {
            self.wait_cluster_ready(&client, name, deadline).await?;
        }
        phases.done(format!("join {} and wait until Ready", names.join(", ")));
        Ok(phases.finish())
    }

    /// Starts Karmada's components on ports picked now, registers them, and waits until they
    /// serve.
    async fn start_components(
        &self,
        client: &Client,
        pki: &Pki,
        options: &KarmadaOptions,
        deadline: Instant,
        phases: &mut Phases,
    ) -> Result<()> {
        let ports = components::Ports::pick()?;
        let apiserver_ca = self.karmada.dir().join("pki/apiserver.crt");
        let service_account_key = self.karmada.service_account_key_path();
        let paths = components::Paths {
            dir: &self.dir,
            bin: &self.binaries.dir,
            kubeconfig: self.karmada.kubeconfig_path(),
            karmada_ca: &pki.karmada_ca_file,
            karmada_ca_key: &pki.karmada_ca_key_file,
            service_account_key: &service_account_key,
            apiserver_ca: &apiserver_ca,
            etcd_url: self.karmada.etcd_url(),
        };

        // Started at once: they only need the API server, and wait for what else they need.
        components::start_kube_controller_manager(&self.components, &paths, &ports)?;
        components::start_aggregated_apiserver(&self.components, &paths, &ports, pki)?;
        components::start_webhook(&self.components, &paths, &ports, pki)?;
        phases.done("start kube-controller-manager, karmada-aggregated-apiserver, karmada-webhook");

        install::apply_module_manifest(client, &self.binaries.module_dir, "namespace.yaml").await?;
        let webhook_url = format!("https://127.0.0.1:{}", ports.webhook);
        install::install_crds(
            client,
            &self.binaries.module_dir,
            &webhook_url,
            &pki.karmada_ca.ca_bundle(),
        )
        .await?;
        phases.done("install Karmada's CRDs");

        install::register_aggregated_apiserver(
            client,
            &self.binaries.module_dir,
            ports.aggregated_apiserver,
            &pki.karmada_ca.ca_bundle(),
        )
        .await?;
        self.wait(deadline, "karmada-webhook to serve", || async {
            components::listening(ports.webhook)
                .then_some(())
                .ok_or_else(|| format!("nothing listens on its port {} yet", ports.webhook))
        })
        .await?;
        install::register_webhooks(
            client,
            &self.binaries.module_dir,
            &webhook_url,
            &pki.karmada_ca.ca_bundle(),
        )
        .await?;
        self.wait(
            deadline,
            "APIService v1alpha1.cluster.karmada.io to be Available",
            || install::apiservice_available(client),
        )
        .await?;
        for manifest in [
            "admin-clusterrole-aggregation.yaml",
            "cluster-proxy-admin-rbac.yaml",
        ] {
            install::apply_module_manifest(client, &self.binaries.module_dir, manifest).await?;
        }
        phases.done("register karmada-aggregated-apiserver and karmada-webhook");

        components::start_scheduler(&self.components, &paths, &ports)?;
        components::start_controller_manager(&self.components, &paths, &ports, options)?;
        for (component, port) in [
            ("karmada-scheduler", ports.scheduler_health),
            (
                "karmada-controller-manager",
                ports.controller_manager_health,
            ),
        ] {
            self.wait(
                deadline,
                &format!("{component} to be healthy"),
                || async move {
                    components::http_ok(port, "/healthz")
                        .then_some(())
                        .ok_or_else(|| "its /healthz does not answer 200 yet".to_owned())
                },
            )
            .await?;
        }
        phases.done("start karmada-scheduler and karmada-controller-manager");
        Ok(())
    }

    /// Polls `check` until it returns `Ok`, a process dies (error with every log), or the
    /// deadline passes (error with the last reason and every log).
    async fn wait<F, Fut>(&self, deadline: Instant, what: &str, mut check: F) -> Result<()>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<(), String>>,
    {
        loop {
            self.check_health()?;
            let last = match check().await {
                Ok(()) => return Ok(()),
                Err(reason) => reason,
            };
            if Instant::now() > deadline {
                return Err(Error::Karmada {
                    what: format!("waiting for {what}"),
                    detail: format!("not done in time; last check: {last}"),
                    logs: String::new(),
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    pub(super) async fn join(&self, client: &Client, name: &str) -> Result<()> {
        let (member_yaml, server_url, ca_pem) = {
            let members = self.members.lock().unwrap_or_else(|e| e.into_inner());
            let plane = members.get(name).ok_or_else(|| self.unknown_member(name))?;
            (
                plane.kubeconfig_yaml(crate::ADMIN_USER)?,
                plane.server_url().to_owned(),
                plane.ca_pem().to_vec(),
            )
        };
        let member_client = client_from_yaml(&member_yaml).await?;
        member::join(client, &member_client, name, &server_url, &ca_pem).await
    }

    pub(super) async fn wait_cluster_ready(
        &self,
        client: &Client,
        name: &str,
        deadline: Instant,
    ) -> Result<()> {
        let clusters: Api<DynamicObject> = Api::all_with(client.clone(), &cluster_api_resource());
        self.wait(deadline, &format!("Cluster {name} to be Ready"), || async {
            match clusters.get_opt(name).await {
                Ok(Some(cluster)) => match member::ready_condition(&cluster) {
                    Some((status, _)) if status == "True" => Ok(()),
                    Some((status, reason)) => Err(format!("Ready={status} ({reason})")),
                    None => Err("no Ready condition yet".to_owned()),
                },
                Ok(None) => Err("the Cluster does not exist".to_owned()),
                Err(e) => Err(format!("reading the Cluster: {e}")),
            }
        })
        .await?;
        // Karmada's cluster proxy impersonates the caller on the member with RBAC that
        // karmada-controller-manager (unified-auth) propagates after the Cluster turns Ready, for
        // the users Karmada grants `clusters/proxy` ([`KARMADA_ADMIN`]); until it lands the proxy
        // answers 403. `kubectl get --raw .../proxy/...` must work once the environment is up.
        let client = &self.karmada_client().await?;
        let path = format!(
            "/apis/cluster.karmada.io/v1alpha1/clusters/{name}/proxy/api/v1/namespaces/kube-system"
        );
        self.wait(
            deadline,
            &format!("Karmada's proxy to reach {name}"),
            || async {
                let request = http::Request::get(&path)
                    .body(Vec::new())
                    .expect("static request");
                client
                    .request_text(request)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            },
        )
        .await
    }
}
