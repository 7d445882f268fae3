#!/usr/bin/env bash
# Proves the image's runtime contents without a container engine.
#
# 1. Reads deploy/Dockerfile's runtime stage: its base (debian:<release>[-slim]) and its
#    RUN, COPY --from=builder, ENV, USER, ENTRYPOINT and CMD instructions.
# 2. Builds that base with `debootstrap --variant=minbase <release>` from Debian's packages
#    (what the debian:<release>-slim image is made from), cached outside the clone in
#    ~/.cache/multicluster-cloud-provider/rootfs-<release>-<arch>-<hash>; later runs copy it.
# 3. Replays the runtime stage on a copy: RUN in a chroot, COPY of the release artifacts of
#    `make multicluster-provider-fake` (_output/) to the same paths, the same USER.
# 4. Starts the local control plane (mcp-testenv up, own state directory) and puts its admin
#    kubeconfig (the Go original's karmada.config is an admin one too; the RBAC of
#    deploy/karmada-rbac.yaml is tested by controller/tests/rbac.rs) where
#    deploy/multicluster-provider-fake.yaml mounts its Secret, with the Secret volume's owner
#    and mode.
# 5. Runs ENTRYPOINT with the Deployment's container args (only the two ports changed to free
#    ones) inside the copy, like the kubelet would: chroot as the image's USER, root filesystem
#    read-only, /proc, /sys (read-only) and a minimal /dev mounted, no new privileges and no
#    capabilities, no --provider-dir (the fake provider comes from the image's default
#    directory). It shares the host's network, so the API server on 127.0.0.1 is reachable.
# 6. Checks /healthz and /readyz, applies examples/ingressclass-fake.yaml and examples/mci.yaml,
#    waits for the MCI's status.loadBalancer.ingress[0].ip to be 1.2.3.4, checks the process's
#    user and capabilities and the leader-election Lease, then sends SIGTERM and expects exit 0.
#
# Every exit path stops the controller, unmounts, removes the copy and stops the control plane.
#
# Needs: root, debootstrap, jq, curl (hack/image/install-tools.sh), the artifacts of
# `make multicluster-provider-fake`, and the control plane binaries and kubectl
# (hack/testenv/build.sh builds them, cached).
#
# Environment:
#   GOARCH               architecture of the artifacts (default: the host's; must be the host's)
#   DEBIAN_MIRROR        debootstrap mirror (default http://deb.debian.org/debian)
#   ROOTFS_TEST_TIMEOUT  seconds to wait for each step (default 90)
#   ROOTFS_TEST_KEEP     `true` keeps the working copy (for inspection) instead of removing it
#   MCP_TESTENV_BIN_DIR  etcd and kube-apiserver (default: hack/testenv/build.sh's output)
#   KUBECTL              kubectl (default: hack/testenv/build.sh kubectl)
set -o errexit -o nounset -o pipefail

# shellcheck source=hack/image/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPO_ROOT="$(image::repo_root)"
DEPLOYMENT="${REPO_ROOT}/deploy/multicluster-provider-fake.yaml"
GOARCH="${GOARCH:-$(image::host_arch)}"
TIMEOUT="${ROOTFS_TEST_TIMEOUT:-90}"
started_at=${SECONDS}

[[ "$(id -u)" == 0 ]] || image::die "needs root (debootstrap, chroot and mounts)"
for tool in debootstrap chroot jq curl mount setpriv flock; do
  command -v "${tool}" >/dev/null 2>&1 ||
    image::die "${tool} not found; run hack/image/install-tools.sh (or make tools)"
done
[[ "${GOARCH}" == "$(image::host_arch)" ]] ||
  image::die "GOARCH=${GOARCH}: the rootfs test runs the artifacts, so only the host's architecture ($(image::host_arch)) works"
# shellcheck source=hack/image/rootfs.sh
source "$(dirname "${BASH_SOURCE[0]}")/rootfs.sh"

# ---- 1, 2. The runtime stage of deploy/Dockerfile and its base (cached) -----------------------
rootfs::parse "${GOARCH}"
rootfs::base

# ---- Working copy, control plane and cleanup --------------------------------------------------

work="$(mktemp -d "${TMPDIR:-/tmp}/mcp-rootfs-test.XXXXXX")"
root="${work}/rootfs"
controller_pid=""
mounts=()
testenv_bin=""
export MCP_TESTENV_STATE_DIR="${work}/testenv"

cleanup() {
  local status=$?
  set +o errexit
  if [[ -n "${controller_pid}" ]] && kill -0 "${controller_pid}" 2>/dev/null; then
    kill -KILL "${controller_pid}" 2>/dev/null
    wait "${controller_pid}" 2>/dev/null
  fi
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" 2>/dev/null
  done
  if [[ -n "${testenv_bin}" ]]; then
    "${testenv_bin}" down >/dev/null 2>&1
  fi
  if ((status != 0)) && [[ -f "${work}/controller.log" ]]; then
    image::log "controller log (last 60 lines):"
    tail -n 60 "${work}/controller.log" >&2
  fi
  # Never follow a mount point that failed to unmount into the host.
  if findmnt -rn -o TARGET | grep -q "^${work}/"; then
    image::log "mounts under ${work} remain; not removing it"
  elif [[ "${ROOTFS_TEST_KEEP:-false}" == true ]]; then
    image::log "kept ${work}"
  else
    rm -rf "${work}"
  fi
  if ((status == 0)); then
    image::log "passed in $((SECONDS - started_at))s"
  else
    image::log "FAILED (exit ${status})"
  fi
  exit "${status}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- 3. Replay the runtime stage -------------------------------------------------------------
rootfs::replay "${root}"
user="${ROOTFS_USER}"
uid="${user%%:*}"
gid="${user##*:}"
env_vars=("${ROOTFS_ENV[@]}")
entrypoint=("${ROOTFS_ENTRYPOINT[@]}")
[[ -f "${root}/usr/local/lib/multicluster-provider/libmcp_provider_fake.so" ]] ||
  image::die "the fake provider is not in the default provider directory /usr/local/lib/multicluster-provider"

# The artifacts are not writable by the image's user.
if env -i "${env_vars[@]}" chroot --userspec="${user}" "${root}" /bin/sh -c 'test -w /usr/local/bin/multicluster-provider'; then
  image::die "the controller binary is writable by ${user}"
fi
# The image's own command (CMD) parses: `version` needs no API server.
env -i "${env_vars[@]}" chroot --userspec="${user}" "${root}" "${entrypoint[@]}" version >"${work}/version.txt"
image::log "in the image: $(cat "${work}/version.txt")"
env -i "${env_vars[@]}" chroot --userspec="${user}" "${root}" "${entrypoint[@]}" inspect fake >"${work}/inspect.txt" 2>&1 ||
  {
    cat "${work}/inspect.txt" >&2
    image::die "the image cannot load the fake provider from its default directory"
  }

# ---- 4. Control plane ------------------------------------------------------------------------

if [[ -z "${MCP_TESTENV_BIN_DIR:-}" ]]; then
  MCP_TESTENV_BIN_DIR="$(bash "${REPO_ROOT}/hack/testenv/build.sh")"
  export MCP_TESTENV_BIN_DIR
fi
(cd "${REPO_ROOT}" && cargo build --quiet -p mcp-testenv --bin mcp-testenv)
testenv_bin="$(image::cargo_target_dir)/debug/mcp-testenv"
kubeconfig="$("${testenv_bin}" up --kubeconfig "${work}/kubeconfig" 2>"${work}/testenv-up.log")" || {
  cat "${work}/testenv-up.log" >&2
  image::die "the local control plane did not start"
}
# kubectl of the control plane's Kubernetes release, built like kube-apiserver (cached).
KUBECTL="${KUBECTL:-$(bash "${REPO_ROOT}/hack/testenv/build.sh" kubectl)}"
kc=("${KUBECTL}" --kubeconfig "${kubeconfig}")
"${kc[@]}" create namespace karmada-system --dry-run=client -o yaml | "${kc[@]}" apply -f - >/dev/null

# The Deployment as the API server reads it (server-side dry run: validated, defaulted).
"${kc[@]}" apply --dry-run=server -f "${DEPLOYMENT}" -o json >"${work}/deployment.json"
pod_spec() { jq -r "$1" "${work}/deployment.json"; }
mapfile -t args < <(pod_spec '.spec.template.spec.containers[0].args[]')
[[ "$(pod_spec '.spec.template.spec.securityContext.runAsUser')" == "${uid}" ]] ||
  image::die "the Deployment's runAsUser is not the image's USER ${uid}"
fs_group="$(pod_spec '.spec.template.spec.securityContext.fsGroup')"
secret_mode="$(printf '%o' "$(pod_spec '.spec.template.spec.volumes[] | select(.name == "karmada-config") | .secret.defaultMode')")"
mount_path="$(pod_spec '.spec.template.spec.containers[0].volumeMounts[] | select(.name == "karmada-config") | .mountPath')"
[[ "$(pod_spec '.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem')" == true ]] ||
  image::die "the Deployment does not set readOnlyRootFilesystem"

# The Secret volume: karmada.config, owned by root and the fsGroup, with the volume's mode.
install -D -o 0 -g "${fs_group}" -m "${secret_mode}" "${kubeconfig}" "${root}${mount_path}/karmada.config"

# Two free ports instead of 10368 and 8080 (other processes on this machine may hold those).
free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; then
      echo "${port}"
      return
    fi
  done
  image::die "no free port found"
}
health_port="$(free_port)"
metrics_port="$(free_port)"
run_args=()
for arg in "${args[@]}"; do
  case "${arg}" in
    --secure-port=*) run_args+=("--secure-port=${health_port}") ;;
    --metrics-bind-address=*) run_args+=("--metrics-bind-address=127.0.0.1:${metrics_port}") ;;
    --provider-dir*) image::die "the Deployment passes --provider-dir; the image's default directory must do" ;;
    *) run_args+=("${arg}") ;;
  esac
done

# ---- 5. Read-only root, container-like mounts, run as the image's user -------------------------

mount --bind "${root}" "${root}" && mounts+=("${root}")
mount -o remount,bind,ro "${root}"
mount -t proc proc "${root}/proc" && mounts+=("${root}/proc")
mount -t sysfs -o ro sysfs "${root}/sys" && mounts+=("${root}/sys")
mount -t tmpfs -o mode=755,size=64k,nosuid tmpfs "${root}/dev" && mounts+=("${root}/dev")
for node in "null 1 3" "zero 1 5" "full 1 7" "random 1 8" "urandom 1 9" "tty 5 0"; do
  read -r name major minor <<<"${node}"
  mknod -m 666 "${root}/dev/${name}" c "${major}" "${minor}"
done
if touch "${root}/tmp/probe" 2>/dev/null; then
  image::die "the root filesystem copy is not read-only"
fi

image::log "running in the root filesystem as ${user}: ${entrypoint[*]} ${run_args[*]}"
run_started=${SECONDS}
# exec chain (env -> setpriv -> chroot -> controller): $! is the controller's pid. The bounding
# set keeps only what chroot needs to switch to the user; the controller runs without any
# capability (it is not root) and with no_new_privs, like allowPrivilegeEscalation: false.
env -i "${env_vars[@]}" HOSTNAME=multicluster-provider-fake-rootfs-test NO_COLOR=1 \
  setpriv --no-new-privs --bounding-set=-all,+sys_chroot,+setuid,+setgid -- \
  chroot --userspec="${user}" --groups="${gid}" "${root}" \
  "${entrypoint[@]}" "${run_args[@]}" >"${work}/controller.log" 2>&1 &
controller_pid=$!

wait_for() {
  local what=$1
  shift
  local deadline=$((SECONDS + TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    kill -0 "${controller_pid}" 2>/dev/null || image::die "the controller exited while waiting for ${what}"
    ((SECONDS < deadline)) || image::die "timed out after ${TIMEOUT}s waiting for ${what}"
    sleep 0.2
  done
}
wait_for "/healthz" curl -fsS "http://127.0.0.1:${health_port}/healthz"
wait_for "/readyz" curl -fsS "http://127.0.0.1:${health_port}/readyz"
ready_seconds=$((SECONDS - run_started))

status="$(cat "/proc/${controller_pid}/status")"
[[ "$(awk '/^Uid:/ {print $2}' <<<"${status}")" == "${uid}" ]] || image::die "the controller does not run as ${uid}"
[[ "$(awk '/^CapEff:/ {print $2}' <<<"${status}")" =~ ^0+$ ]] || image::die "the controller has capabilities"
[[ "$(awk '/^NoNewPrivs:/ {print $2}' <<<"${status}")" == 1 ]] || image::die "no_new_privs is not set"
[[ "$(readlink "/proc/${controller_pid}/root")" == "${root}" ]] || image::die "the controller is not in the root filesystem copy"

# ---- 6. The original's demo objects: the MCI gets its address ----------------------------------

"${kc[@]}" apply -f "${REPO_ROOT}/examples/ingressclass-fake.yaml" -f "${REPO_ROOT}/examples/mci.yaml" >/dev/null
mci_ip() {
  [[ "$("${kc[@]}" -n default get multiclusteringress minimal-ingress \
    -o 'jsonpath={.status.loadBalancer.ingress[0].ip}')" == 1.2.3.4 ]]
}
wait_for "the MCI's load balancer address 1.2.3.4" mci_ip
converged_seconds=$((SECONDS - run_started))
lease_holder() {
  [[ -n "$("${kc[@]}" -n karmada-system get lease multicluster-controller-manager -o 'jsonpath={.spec.holderIdentity}')" ]]
}
wait_for "the leader-election Lease" lease_holder
image::log "MCI minimal-ingress: $("${kc[@]}" -n default get multiclusteringress minimal-ingress -o 'jsonpath={.status.loadBalancer}')"
grep -q 'loaded the cloud provider' "${work}/controller.log" ||
  image::die "the controller did not log loading the provider"
grep -q '/usr/local/lib/multicluster-provider/libmcp_provider_fake.so' "${work}/controller.log" ||
  image::die "the provider was not loaded from the image's default directory"

# SIGTERM, as the kubelet stops a pod: exit 0 within terminationGracePeriodSeconds.
grace="$(pod_spec '.spec.template.spec.terminationGracePeriodSeconds')"
kill -TERM "${controller_pid}"
deadline=$((SECONDS + grace))
while kill -0 "${controller_pid}" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
kill -0 "${controller_pid}" 2>/dev/null && image::die "the controller did not stop within ${grace}s of SIGTERM"
exit_code=0
wait "${controller_pid}" || exit_code=$?
controller_pid=""
((exit_code == 0)) || image::die "the controller exited with ${exit_code} after SIGTERM"

image::log "base root filesystem: built in ${ROOTFS_BASE_SECONDS}s on first use (cached at ${ROOTFS_BASE})"
image::log "in the root filesystem: ready after ${ready_seconds}s, MCI address after ${converged_seconds}s, clean exit on SIGTERM"
