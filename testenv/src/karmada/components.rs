//! Karmada's processes and their flags, after Karmada's own manifests
//! (`artifacts/deploy/*.yaml` of the pinned module) with loopback addresses and files made here.
//!
//! Differences from the manifests, all for running as plain processes on one machine: every
//! component authenticates with the admin bearer token instead of a client certificate in
//! `system:masters`; servers listen on free loopback ports; karmada-scheduler runs without the
//! scheduler estimator (no estimator is deployed); the components run with Karmada's default
//! feature gates, plus `MultiClusterService` for karmada-controller-manager (its MCS controller),
//! and text logs (the manifests of Karmada's development setup turn on every alpha and beta gate
//! and JSON logs).

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::{KarmadaOptions, Pki};
use crate::control_plane::SERVICE_CLUSTER_IP_RANGE;
use crate::error::{Error, Result};
use crate::process::ProcessGroup;

/// Loopback ports of the components, picked free together.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ports {
    pub aggregated_apiserver: u16,
    pub webhook: u16,
    pub webhook_health: u16,
    pub webhook_metrics: u16,
    pub kube_controller_manager: u16,
    pub scheduler_health: u16,
    pub scheduler_metrics: u16,
    pub controller_manager_health: u16,
    pub controller_manager_metrics: u16,
}

impl Ports {
    pub(super) fn pick() -> Result<Self> {
        let listeners = (0..9)
            .map(|_| {
                std::net::TcpListener::bind(("127.0.0.1", 0))
                    .map_err(Error::io("picking a free loopback port"))
            })
            .collect::<Result<Vec<_>>>()?;
        let ports = listeners
            .iter()
            .map(|l| {
                l.local_addr()
                    .map(|a| a.port())
                    .map_err(Error::io("picking a free loopback port"))
            })
            .collect::<Result<Vec<u16>>>()?;
        Ok(Self {
            aggregated_apiserver: ports[0],
            webhook: ports[1],
            webhook_health: ports[2],
            webhook_metrics: ports[3],
            kube_controller_manager: ports[4],
            scheduler_health: ports[5],
            scheduler_metrics: ports[6],
            controller_manager_health: ports[7],
            controller_manager_metrics: ports[8],
        })
    }
}

/// Files and addresses the components are started with.
pub(super) struct Paths<'a> {
    /// The environment's directory (logs go here).
    pub dir: &'a Path,
    /// Where the binaries are.
    pub bin: &'a Path,
    /// The Karmada API server's admin kubeconfig.
    pub kubeconfig: &'a Path,
    /// The CA of Karmada's certificates, and its key (kube-controller-manager signs CSRs with it).
    pub karmada_ca: &'a Path,
    pub karmada_ca_key: &'a Path,
    /// The Karmada API server's service-account signing key.
    pub service_account_key: &'a Path,
    /// The Karmada API server's CA (its serving certificate's issuer), for service-account
    /// token Secrets.
    pub apiserver_ca: &'a Path,
    /// etcd of the Karmada API server (karmada-aggregated-apiserver stores Clusters there too).
    pub etcd_url: &'a str,
}

impl Paths<'_> {
    fn command(&self, binary: &str) -> Command {
        let mut command = Command::new(self.bin.join(binary));
        command
            .arg(format!("--kubeconfig={}", self.kubeconfig.display()))
            .current_dir(self.dir);
        command
    }

    /// A server that delegates authentication and authorization to the Karmada API server.
    fn delegating_command(&self, binary: &str) -> Command {
        let mut command = self.command(binary);
        command
            .arg(format!(
                "--authentication-kubeconfig={}",
                self.kubeconfig.display()
            ))
            .arg(format!(
                "--authorization-kubeconfig={}",
                self.kubeconfig.display()
            ));
        command
    }

    fn log(&self, component: &str) -> std::path::PathBuf {
        self.dir.join(format!("{component}.log"))
    }
}

/// controller-runtime's metrics and health-probe addresses, on loopback.
fn probe_args(command: &mut Command, metrics: u16, health: u16) {
    command
        .arg(format!("--metrics-bind-address=127.0.0.1:{metrics}"))
        .arg(format!("--health-probe-bind-address=127.0.0.1:{health}"));
}

/// The aggregation flags of `karmada-apiserver.yaml`, on top of the light mode's flags.
pub(super) fn karmada_apiserver_args(pki: &Pki) -> Vec<String> {
    vec![
        format!(
            "--proxy-client-cert-file={}",
            pki.front_proxy_client.0.display()
        ),
        format!(
            "--proxy-client-key-file={}",
            pki.front_proxy_client.1.display()
        ),
        format!(
            "--requestheader-client-ca-file={}",
            pki.front_proxy_ca_file.display()
        ),
        "--requestheader-allowed-names=front-proxy-client".into(),
        // As Karmada's manifest: clients may also authenticate with certificates of Karmada's
        // CA, and the aggregated API server finds a client CA in
        // kube-system/extension-apiserver-authentication.
        format!("--client-ca-file={}", pki.karmada_ca_file.display()),
        "--requestheader-extra-headers-prefix=X-Remote-Extra-".into(),
        "--requestheader-group-headers=X-Remote-Group".into(),
        "--requestheader-username-headers=X-Remote-User".into(),
        "--disable-admission-plugins=StorageObjectInUseProtection,ServiceAccount".into(),
        format!("--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}"),
    ]
}

/// kube-controller-manager with the controllers of `kube-controller-manager.yaml`: the garbage
/// collector is what deletes objects whose owner is gone, the namespace controller what empties
/// a deleted namespace.
pub(super) fn start_kube_controller_manager(
    group: &ProcessGroup,
    paths: &Paths<'_>,
    ports: &Ports,
) -> Result<()> {
    let mut command = paths.delegating_command("kube-controller-manager");
    command
        .arg("--bind-address=127.0.0.1")
        .arg(format!("--secure-port={}", ports.kube_controller_manager))
        .arg(format!(
            "--cert-dir={}",
            paths.dir.join("kube-controller-manager").display()
        ))
        .arg("--cluster-name=karmada")
        .arg(format!(
            "--cluster-signing-cert-file={}",
            paths.karmada_ca.display()
        ))
        .arg(format!(
            "--cluster-signing-key-file={}",
            paths.karmada_ca_key.display()
        ))
        .arg("--controllers=namespace,garbagecollector,serviceaccount-token,ttl-after-finished,bootstrapsigner,tokencleaner,csrcleaner,csrsigning,clusterrole-aggregation")
        .arg("--leader-elect=false")
        .arg(format!("--root-ca-file={}", paths.apiserver_ca.display()))
        .arg(format!(
            "--service-account-private-key-file={}",
            paths.service_account_key.display()
        ))
        .arg(format!(
            "--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}"
        ))
        .arg("--use-service-account-credentials=true");
    group.spawn(
        "kube-controller-manager",
        command,
        &paths.log("kube-controller-manager"),
    )?;
    Ok(())
}

/// karmada-aggregated-apiserver (`karmada-aggregated-apiserver.yaml`): serves
/// `cluster.karmada.io` from the Karmada API server's etcd.
pub(super) fn start_aggregated_apiserver(
    group: &ProcessGroup,
    paths: &Paths<'_>,
    ports: &Ports,
    pki: &Pki,
) -> Result<()> {
    let mut command = paths.delegating_command("karmada-aggregated-apiserver");
    command
        .arg(format!("--etcd-servers={}", paths.etcd_url))
        .arg(format!(
            "--tls-cert-file={}",
            pki.aggregated_apiserver.0.display()
        ))
        .arg(format!(
            "--tls-private-key-file={}",
            pki.aggregated_apiserver.1.display()
        ))
        .arg("--tls-min-version=VersionTLS13")
        .arg("--bind-address=127.0.0.1")
        .arg(format!("--secure-port={}", ports.aggregated_apiserver));
    group.spawn(
        "karmada-aggregated-apiserver",
        command,
        &paths.log("karmada-aggregated-apiserver"),
    )?;
    Ok(())
}

/// karmada-webhook (`karmada-webhook.yaml`): defaulting, validation and CRD conversion.
pub(super) fn start_webhook(
    group: &ProcessGroup,
    paths: &Paths<'_>,
    ports: &Ports,
    pki: &Pki,
) -> Result<()> {
    let mut command = paths.command("karmada-webhook");
    command
        .arg("--bind-address=127.0.0.1")
        .arg(format!("--secure-port={}", ports.webhook))
        .arg(format!("--cert-dir={}", pki.webhook_cert_dir.display()))
        .arg("--allow-no-execute-taint-policy=true");
    probe_args(&mut command, ports.webhook_metrics, ports.webhook_health);
    group.spawn("karmada-webhook", command, &paths.log("karmada-webhook"))?;
    Ok(())
}

/// karmada-scheduler (`karmada-scheduler.yaml`, without the scheduler estimator).
pub(super) fn start_scheduler(
    group: &ProcessGroup,
    paths: &Paths<'_>,
    ports: &Ports,
) -> Result<()> {
    let mut command = paths.command("karmada-scheduler");
    command.arg("--enable-scheduler-estimator=false");
    probe_args(
        &mut command,
        ports.scheduler_metrics,
        ports.scheduler_health,
    );
    group.spawn(
        "karmada-scheduler",
        command,
        &paths.log("karmada-scheduler"),
    )?;
    Ok(())
}

/// karmada-controller-manager (`karmada-controller-manager.yaml`), with the cluster status
/// timing of `options`.
pub(super) fn start_controller_manager(
    group: &ProcessGroup,
    paths: &Paths<'_>,
    ports: &Ports,
    options: &KarmadaOptions,
) -> Result<()> {
    let mut command = paths.command("karmada-controller-manager");
    command
        .arg(format!(
            "--cluster-status-update-frequency={}ms",
            options.cluster_status_update_frequency.as_millis()
        ))
        .arg(format!(
            "--cluster-failure-threshold={}ms",
            options.cluster_failure_threshold.as_millis()
        ))
        .arg("--controllers=*,hpaScaleTargetMarker,deploymentReplicasSyncer")
        // Karmada's own MultiClusterService controller (CrossCluster MCSs) is behind this alpha
        // gate; the controllers under test share MCS objects with it.
        .arg("--feature-gates=MultiClusterService=true")
        .arg("--enable-no-execute-taint-eviction=true");
    probe_args(
        &mut command,
        ports.controller_manager_metrics,
        ports.controller_manager_health,
    );
    group.spawn(
        "karmada-controller-manager",
        command,
        &paths.log("karmada-controller-manager"),
    )?;
    Ok(())
}

/// Whether something accepts connections on `127.0.0.1:<port>`.
pub(super) fn listening(port: u16) -> bool {
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_ok()
}

/// Whether `GET http://127.0.0.1:<port><path>` answers 200 (a health probe, as a kubelet's).
pub(super) fn http_ok(port: u16, path: &str) -> bool {
    let probe = || -> std::io::Result<bool> {
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(1))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        write!(
            stream,
            "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n"
        )?;
        let mut head = [0u8; 16];
        let mut read = 0;
        while read < head.len() {
            match stream.read(&mut head[read..])? {
                0 => break,
                n => read += n,
            }
        }
        Ok(head[..read].starts_with(b"HTTP/1.1 200") || head[..read].starts_with(b"HTTP/1.0 200"))
    };
    probe().unwrap_or(false)
}
