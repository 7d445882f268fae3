//! `mcp-try-provider`: try a provider library against a local control plane, from anywhere (a
//! vendor's own repository, a release tarball), in one command.
//!
//! It starts a local Karmada-shaped control plane (real etcd + kube-apiserver, the project's CRDs
//! compiled in), applies an IngressClass of the provider's class and a sample MultiClusterIngress
//! and (if the provider offers it) MultiClusterService, runs the controller
//! (`multicluster-provider`) with the library, waits for the statuses the provider gives them,
//! has the controller read each balancer back with `get` after `ensure` and after `update`
//! ([`checks`]), and prints the statuses. Exit code 0 when every object got an address and read
//! back; otherwise the error names the object and the provider method that failed. `--keep`
//! leaves it all running until Ctrl-C.
//!
//! The controller is `--controller`, else the `multicluster-provider` next to this binary, else
//! the one on PATH. etcd and kube-apiserver come from `--bin-dir` / `$MCP_TESTENV_BIN_DIR`, else
//! from `../libexec/multicluster-provider/testenv/` next to this binary (the release tarball),
//! else from the repository's build script.

#![forbid(unsafe_code)]

mod checks;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::Parser;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use mcp_testenv::{BIN_DIR_ENV, ControlPlane, ControlPlaneOptions, apply_crds, apply_yaml};

use checks::{Metrics, Sample, Watch};

/// The project's CRDs, compiled in so the binary works outside the repository.
const CRDS: [(&str, &str); 8] = [
    (
        "clusterpropagationpolicies.policy.karmada.io.yaml",
        include_str!("../../../../deploy/crds/clusterpropagationpolicies.policy.karmada.io.yaml"),
    ),
    (
        "clusters.cluster.karmada.io.yaml",
        include_str!("../../../../deploy/crds/clusters.cluster.karmada.io.yaml"),
    ),
    (
        "multiclusteringresses.networking.karmada.io.yaml",
        include_str!("../../../../deploy/crds/multiclusteringresses.networking.karmada.io.yaml"),
    ),
    (
        "multiclusterservices.networking.karmada.io.yaml",
        include_str!("../../../../deploy/crds/multiclusterservices.networking.karmada.io.yaml"),
    ),
    (
        "propagationpolicies.policy.karmada.io.yaml",
        include_str!("../../../../deploy/crds/propagationpolicies.policy.karmada.io.yaml"),
    ),
    (
        "resourcebindings.work.karmada.io.yaml",
        include_str!("../../../../deploy/crds/resourcebindings.work.karmada.io.yaml"),
    ),
    (
        "serviceexports.multicluster.x-k8s.io.yaml",
        include_str!("../../../../deploy/crds/serviceexports.multicluster.x-k8s.io.yaml"),
    ),
    (
        "serviceimports.multicluster.x-k8s.io.yaml",
        include_str!("../../../../deploy/crds/serviceimports.multicluster.x-k8s.io.yaml"),
    ),
];

/// The sample objects: the repository's examples.
const SAMPLE_MCI: &str = include_str!("../../../../examples/mci.yaml");
const SAMPLE_MCS: &str = include_str!("../../../../examples/mcs.yaml");

#[derive(Parser)]
#[command(
    version,
    about = "Try a provider library against a local control plane: start it, apply a sample MultiClusterIngress and MultiClusterService of the provider's class, run the controller with the library and print the statuses"
)]
struct Cli {
    /// The provider: a name (looked up as libmcp_provider_<name>.so in --provider-dir) or a path
    /// to the library.
    #[arg(long = "cloud-provider", value_name = "NAME|PATH")]
    cloud_provider: String,

    /// A directory holding the library (repeatable).
    #[arg(long = "provider-dir", value_name = "DIR")]
    provider_dirs: Vec<PathBuf>,

    /// The provider's cloud-config file.
    #[arg(long = "cloud-config", value_name = "FILE")]
    cloud_config: Option<PathBuf>,

    /// The IngressClass `.spec.controller` value to serve (default: karmada.io/<provider name>).
    #[arg(long, value_name = "CONTROLLER")]
    provider_ingress_class: Option<String>,

    /// The controller binary (default: the multicluster-provider next to this binary, else on
    /// PATH).
    #[arg(long, value_name = "PATH")]
    controller: Option<PathBuf>,

    /// The directory holding etcd and kube-apiserver.
    #[arg(long, env = BIN_DIR_ENV, value_name = "DIR")]
    bin_dir: Option<PathBuf>,

    /// Where the control plane's files and the controller's log go (default: a new directory
    /// under the system's temporary directory, removed at the end unless --keep).
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,

    /// How long the objects may take to get their addresses, and each to read back.
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    timeout: u64,

    /// Keep the control plane and the controller running after showing the statuses, until
    /// Ctrl-C (prints a kubeconfig to look around with kubectl).
    #[arg(long)]
    keep: bool,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,kube_client=off".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("mcp-try-provider: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcp-try-provider: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn say(what: &str) {
    eprintln!("==> {what}");
}

/// The controller binary to run.
fn controller_binary(cli: &Cli) -> Result<PathBuf> {
    if let Some(path) = &cli.controller {
        return Ok(path.clone());
    }
    let beside = std::env::current_exe()?.with_file_name("multicluster-provider");
    if beside.is_file() {
        return Ok(beside);
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("multicluster-provider"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.is_file());
    on_path.context(
        "no multicluster-provider binary next to this one or on PATH: pass --controller PATH (see docs/vendors.md for how to get it)",
    )
}

/// The directory holding etcd and kube-apiserver.
fn testenv_binaries(cli: &Cli) -> Result<PathBuf> {
    if let Some(dir) = &cli.bin_dir {
        return Ok(dir.clone());
    }
    let exe = std::env::current_exe()?;
    if let Some(prefix) = exe.parent().and_then(Path::parent) {
        let bundled = prefix.join("libexec/multicluster-provider/testenv");
        if bundled.join("kube-apiserver").is_file() {
            return Ok(bundled);
        }
    }
    mcp_testenv::locate_binaries().context(format!(
        "etcd and kube-apiserver not found: pass --bin-dir DIR or set {BIN_DIR_ENV} to a directory holding both"
    ))
}

/// What `multicluster-provider inspect --json` says about the library.
struct Inspected {
    name: String,
    ingress: bool,
    service: bool,
}

fn provider_args(cli: &Cli) -> Vec<String> {
    let mut args = vec![format!("--cloud-provider={}", cli.cloud_provider)];
    for dir in &cli.provider_dirs {
        args.push(format!("--provider-dir={}", dir.display()));
    }
    if let Some(config) = &cli.cloud_config {
        args.push(format!("--cloud-config={}", config.display()));
    }
    args
}

fn inspect(controller: &Path, cli: &Cli) -> Result<Inspected> {
    let out = Command::new(controller)
        .arg("inspect")
        .arg("--json")
        .args(provider_args(cli))
        .output()
        .with_context(|| format!("running {}", controller.display()))?;
    if !out.status.success() {
        bail!(
            "the controller would not load the provider: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("reading `inspect --json`")?;
    Ok(Inspected {
        name: doc["name"].as_str().unwrap_or_default().to_owned(),
        ingress: doc["capabilities"]["multiclusteringress"] == true,
        service: doc["capabilities"]["multiclusterservice"] == true,
    })
}

fn crds() -> Result<Vec<CustomResourceDefinition>> {
    CRDS.iter()
        .map(|(file, yaml)| serde_yaml::from_str(yaml).with_context(|| format!("CRD {file}")))
        .collect()
}

/// The controller process; killed if still running when dropped.
struct Controller(Child);

impl Drop for Controller {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            // SIGTERM first: the controller shuts down cleanly.
            mcp_testenv::send_signal(self.0.id(), libc::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.0.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let controller_bin = controller_binary(&cli)?;
    let provider = inspect(&controller_bin, &cli)?;
    if !provider.ingress && !provider.service {
        bail!(
            "provider {:?} offers neither MultiClusterIngress nor MultiClusterService load balancers",
            provider.name
        );
    }
    let class = cli
        .provider_ingress_class
        .clone()
        .unwrap_or_else(|| format!("karmada.io/{}", provider.name));

    let temp;
    let work_dir = match &cli.work_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            dir.clone()
        }
        None => {
            temp = tempfile::Builder::new()
                .prefix("mcp-try-provider-")
                .tempdir()?;
            temp.path().to_path_buf()
        }
    };

    say("Starting a local control plane (etcd + kube-apiserver)");
    let plane = ControlPlane::start(ControlPlaneOptions {
        bin_dir: Some(testenv_binaries(&cli)?),
        base_dir: Some(work_dir.clone()),
        ..Default::default()
    })
    .await?;
    let client = plane.admin_client().await?;
    apply_crds(&client, &crds()?).await?;
    let kubeconfig =
        plane.write_kubeconfig(mcp_testenv::ADMIN_USER, &work_dir.join("kubeconfig"))?;

    say(&format!(
        "Applying an IngressClass for {class} and the sample objects"
    ));
    let ingress_class = format!(
        "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  name: {name}\n  annotations: {{ingressclass.kubernetes.io/is-default-class: \"true\"}}\nspec:\n  controller: {class}\n",
        name = provider.name.replace('_', "-")
    );
    apply_yaml(&client, &ingress_class, "IngressClass", "default").await?;
    let mut samples = Vec::new();
    if provider.ingress {
        samples.extend(apply_yaml(&client, SAMPLE_MCI, "examples/mci.yaml", "default").await?);
    }
    if provider.service {
        samples.extend(apply_yaml(&client, SAMPLE_MCS, "examples/mcs.yaml", "default").await?);
    }

    let log_path = work_dir.join("controller.log");
    say(&format!(
        "Running {} with the provider (log: {})",
        controller_bin.display(),
        log_path.display()
    ));
    let log = std::fs::File::create(&log_path)?;
    // Its provider call counters tell which calls failed (a port free when asked).
    let metrics = Metrics {
        port: std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port(),
    };
    let mut controllers = String::from("multiclusteringress,multiclusterservice");
    if !provider.service {
        controllers = "multiclusteringress".into();
    } else if !provider.ingress {
        controllers = "multiclusterservice".into();
    }
    let mut controller = Controller(
        Command::new(&controller_bin)
            .args(provider_args(&cli))
            .arg(format!("--provider-ingress-class={class}"))
            .arg(format!("--kubeconfig={}", kubeconfig.display()))
            .arg(format!("--controllers={controllers}"))
            .args(["--leader-elect=false", "--secure-port=0"])
            .arg(format!("--metrics-bind-address=127.0.0.1:{}", metrics.port))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", controller_bin.display()))?,
    );

    let samples: Vec<Sample> = samples.iter().map(Sample::new).collect();
    let mut watch = Watch {
        client: &client,
        controller: &mut controller,
        log_path: &log_path,
        metrics: &metrics,
        timeout: Duration::from_secs(cli.timeout),
    };
    watch.addresses(&samples).await?;
    say("Reading each balancer back: get after ensure, update, get after update");
    for sample in &samples {
        watch.reread(sample, "ensure", 1).await?;
        watch.reread(sample, "update", 2).await?;
    }
    for (what, status) in watch.addresses(&samples).await? {
        println!(
            "{what}:\n  status.loadBalancer: {status}\n  get after ensure and after update: valid"
        );
    }
    if cli.keep {
        println!(
            "\nRunning until Ctrl-C. Look around with:\n  export KUBECONFIG={}\n  kubectl get mci,mcs -o yaml\n  tail -f {}",
            kubeconfig.display(),
            log_path.display()
        );
        tokio::signal::ctrl_c().await?;
    }
    drop(controller);
    drop(plane);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_crd_of_the_repository_is_compiled_in() {
        let dir = mcp_testenv::crd_dir();
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|f| f.ends_with(".yaml"))
            .collect();
        files.sort();
        let embedded: Vec<String> = CRDS.iter().map(|(f, _)| (*f).to_owned()).collect();
        assert_eq!(files, embedded);
        assert_eq!(crds().unwrap().len(), CRDS.len());
    }
}
