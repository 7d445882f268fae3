//! A local Karmada-shaped control plane for tests and the demo: the real `kube-apiserver`
//! backed by the real `etcd`, on loopback, with token authentication and RBAC, plus the
//! project's Karmada CRDs (`deploy/crds/`).
//!
//! * [`ControlPlane::start`] starts one; dropping it stops it. Servers never outlive the process.
//! * [`install_crds`] installs the Karmada API surface.
//! * [`shared`] / [`test_context`] give integration tests one control plane per test binary and
//!   a namespace per test.
//! * [`apply_yaml`] / [`apply_path`] apply manifests like `kubectl apply --server-side`.
//! * [`KarmadaEnv::start`] runs the **Karmada mode**: Karmada v1.16's own components (API
//!   server with aggregation, kube-controller-manager, karmada-aggregated-apiserver,
//!   karmada-webhook, karmada-scheduler, karmada-controller-manager) and member clusters joined
//!   in Push mode.
//! * [`endpoints::write_endpoint_slice`] writes, in a member cluster without nodes, the
//!   EndpointSlice kube-controller-manager would write for a Service's running pods.
//! * [`repo_root`], [`target_dir`], [`cargo`] and [`fake_provider_dir`]: the repository the
//!   tests run in, shared by every crate's tests.
//!
//! The binaries come from `$MCP_TESTENV_BIN_DIR` or are built by `hack/testenv/build.sh`
//! (see docs/testenv.md).

// `unsafe` is for the FFI boundary only, and every block says why it is sound.
#![deny(clippy::undocumented_unsafe_blocks)]

mod apply;
mod binaries;
mod control_plane;
mod crds;
pub mod endpoints;
mod error;
mod etcd;
mod fixture;
pub mod karmada;
mod keys;
pub mod pki;
mod process;
mod workspace;

pub use apply::{apply_object, apply_path, apply_yaml, parse_manifests};
pub use binaries::{
    BIN_DIR_ENV, KARMADA_BIN_DIR_ENV, KARMADA_MODULE_DIR_ENV, KarmadaBinaries, build_script,
    locate_binaries, locate_karmada_binaries, repo_root,
};
pub use control_plane::{
    ADMIN_USER, ControlPlane, ControlPlaneOptions, RESTRICTED_USER, SERVICE_CLUSTER_IP_RANGE,
    TMPDIR_ENV, User, default_base_dir, sweep_stale_dirs,
};
pub use crds::{FIELD_MANAGER, apply_crds, crd_dir, install_crds, install_crds_from, load_crds};
pub use error::{Error, Result};
pub use fixture::{TestContext, TestNamespace, shared, test_context, try_shared};
pub use karmada::{KarmadaEnv, KarmadaOptions, StartupReport};
pub use process::{KEEP_DIRS_ENV, Supervised, log_tail, rss_kib, send_signal};
pub use workspace::{build_fake_provider, cargo, fake_provider_dir, target_dir};
