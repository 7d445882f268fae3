#!/usr/bin/env bash
# Runs the image the way a kubelet would, without a container engine: the OCI archive of
# `make image-oci-archive` unpacked by umoci into an OCI bundle and run by runc, once per
# Deployment:
#
#   ours  deploy/multicluster-provider-fake.yaml: the image's ENTRYPOINT with the Deployment's
#         args, as uid/gid 65532 with fsGroup 65532, read-only root filesystem, no capabilities,
#         no new privileges, the kubeconfig Secret mounted read-only with mode 0440;
#   go    hack/image/go-deployment.yaml, the Go original's Deployment with only the image
#         changed: `command: [/bin/multicluster-provider-fake, ...]` (overriding ENTRYPOINT and
#         CMD, as Kubernetes does), no security context (the image's user, a writable root, the
#         runtime's default capability bounding set), the Secret read-only with the default mode.
#
# For each: both Deployments as the API server reads them (server-side dry run), the container's
# process, user, root and mounts from them; host network (the local control plane is on
# 127.0.0.1; the health and metrics ports are the only arguments changed, to free ones, and
# --metrics-bind-address is added for the Go Deployment, which leaves it at :8080); then
# /healthz, /readyz, the example MCI's address 1.2.3.4, the Lease, the process's uid,
# capabilities and no_new_privs, the provider loaded from the image's default directory,
# deleting the MCI (its finalizer removed), and SIGTERM with exit 0 within the grace period.
#
# Needs: root, runc, umoci, jq, curl (hack/image/install-tools.sh); the archive
# (_output/multicluster-provider-fake-oci.tar); the control plane binaries and kubectl
# (hack/testenv/build.sh builds them, cached).
#
# Environment:
#   VERSION              the archive's tag (default latest)
#   RUNC_TEST_TIMEOUT    seconds to wait for each step (default 90)
#   RUNC_TEST_KEEP       `true` keeps the working directory (bundles, logs) for inspection
#   MCP_TESTENV_BIN_DIR  etcd and kube-apiserver (default: hack/testenv/build.sh's output)
#   KUBECTL              kubectl (default: hack/testenv/build.sh kubectl)
set -o errexit -o nounset -o pipefail

# shellcheck source=hack/image/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPO_ROOT="$(image::repo_root)"
VERSION="${VERSION:-latest}"
TIMEOUT="${RUNC_TEST_TIMEOUT:-90}"
ARCHIVE="${REPO_ROOT}/_output/multicluster-provider-fake-oci.tar"
started_at=${SECONDS}

[[ "$(id -u)" == 0 ]] || image::die "needs root (runc, mounts)"
for tool in runc umoci jq curl nsenter; do
  command -v "${tool}" >/dev/null 2>&1 ||
    image::die "${tool} not found; run hack/image/install-tools.sh (or make tools)"
done
[[ -f "${ARCHIVE}" ]] || image::die "${ARCHIVE} not found; run make image-oci-archive"

work="$(mktemp -d "${TMPDIR:-/tmp}/mcp-runc-test.XXXXXX")"
runc_root="${work}/runc"
container=""
testenv_bin=""
export MCP_TESTENV_STATE_DIR="${work}/testenv"
runc_() { runc --root "${runc_root}" "$@"; }

cleanup() {
  local status=$?
  set +o errexit
  if [[ -n "${container}" ]]; then
    runc_ kill "${container}" KILL >/dev/null 2>&1
    sleep 0.5
    runc_ delete --force "${container}" >/dev/null 2>&1
    if ((status != 0)) && [[ -f "${work}/${container}.log" ]]; then
      image::log "controller log (${container}, last 60 lines):"
      tail -n 60 "${work}/${container}.log" >&2
    fi
  fi
  if [[ -n "${testenv_bin}" ]]; then
    "${testenv_bin}" down >/dev/null 2>&1
  fi
  if [[ "${RUNC_TEST_KEEP:-false}" == true ]]; then
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

# ---- The image, unpacked as an OCI runtime bundle ----------------------------------------------

mkdir -p "${work}/layout" "${runc_root}"
tar -C "${work}/layout" -xf "${ARCHIVE}"
umoci unpack --image "${work}/layout:${VERSION}" "${work}/bundle" >/dev/null
bundle_config="${work}/bundle/config.json"
image_args_json="$(jq -c '.process.args' "${bundle_config}")"
image_user="$(jq -r '"\(.process.user.uid):\(.process.user.gid)"' "${bundle_config}")"
rootfs="${work}/bundle/rootfs"
# What the container user must not be able to change.
for path in usr/local/bin/multicluster-provider usr/local/lib/multicluster-provider/libmcp_provider_fake.so; do
  [[ "$(stat -c '%u %a' "${rootfs}/${path}")" =~ ^0\ 7?55$ ]] ||
    image::die "/${path} is not root-owned and read-only for others"
done
# /bin is /usr/bin in Debian (merged /usr).
[[ "$(readlink "${rootfs}/bin")" == usr/bin &&
  "$(readlink "${rootfs}/usr/bin/multicluster-provider-fake")" == /usr/local/bin/multicluster-provider ]] ||
  image::die "/bin/multicluster-provider-fake (the Go image's command) is not the controller"

# ---- Control plane -----------------------------------------------------------------------------

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
KUBECTL="${KUBECTL:-$(bash "${REPO_ROOT}/hack/testenv/build.sh" kubectl)}"
kc=("${KUBECTL}" --kubeconfig "${kubeconfig}")
"${kc[@]}" create namespace karmada-system --dry-run=client -o yaml | "${kc[@]}" apply -f - >/dev/null
"${kc[@]}" apply -f "${REPO_ROOT}/examples/ingressclass-fake.yaml" >/dev/null

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

wait_for() {
  local what=$1
  shift
  local deadline=$((SECONDS + TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    [[ "$(runc_ state "${container}" 2>/dev/null | jq -r .status)" == running ]] ||
      image::die "${container}: the controller exited while waiting for ${what}"
    ((SECONDS < deadline)) || image::die "${container}: timed out after ${TIMEOUT}s waiting for ${what}"
    sleep 0.2
  done
}

mci_ip() {
  [[ "$("${kc[@]}" -n default get multiclusteringress minimal-ingress \
    -o 'jsonpath={.status.loadBalancer.ingress[0].ip}')" == 1.2.3.4 ]]
}
mci_gone() { ! "${kc[@]}" -n default get multiclusteringress minimal-ingress >/dev/null 2>&1; }
lease_holder() {
  [[ -n "$("${kc[@]}" -n karmada-system get lease multicluster-controller-manager -o 'jsonpath={.spec.holderIdentity}')" ]]
}

# The default capability bounding set of containerd and CRI-O (a container without a
# securityContext); a non-root process has none of them effective.
DEFAULT_CAPS='["CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FSETID","CAP_FOWNER","CAP_MKNOD","CAP_NET_RAW","CAP_SETGID","CAP_SETUID","CAP_SETFCAP","CAP_SETPCAP","CAP_NET_BIND_SERVICE","CAP_SYS_CHROOT","CAP_KILL","CAP_AUDIT_WRITE"]'

# run_deployment NAME MANIFEST: runs the manifest's container from the bundle until the example
# MCI has its address and is deleted again, then stops it as the kubelet does.
run_deployment() {
  local name=$1 manifest=$2
  local spec="${work}/${name}-deployment.json"
  container="mcp-runc-test-${name}-$$"
  "${kc[@]}" apply --dry-run=server -f "${manifest}" -o json >"${spec}"
  pod() { jq -r "$1" "${spec}"; }
  local c='.spec.template.spec.containers[0]'

  # Kubernetes' rule: command replaces ENTRYPOINT (and drops CMD), args replace CMD.
  local argv
  argv="$(jq -c --argjson image "${image_args_json}" "${c} as \$c |
    if \$c.command then \$c.command + (\$c.args // [])
    elif \$c.args then [\$image[0]] + \$c.args
    else \$image end" "${spec}")"
  local health_port metrics_port
  health_port="$(free_port)"
  metrics_port="$(free_port)"
  argv="$(jq -c --arg health "--secure-port=${health_port}" \
    --arg metrics "--metrics-bind-address=127.0.0.1:${metrics_port}" '
    map(if startswith("--secure-port=") then $health
        elif startswith("--metrics-bind-address=") then $metrics else . end)
    | if any(startswith("--metrics-bind-address=")) then . else . + [$metrics] end' <<<"${argv}")"
  if jq -e 'any(startswith("--provider-dir"))' <<<"${argv}" >/dev/null; then
    image::die "${name}: the Deployment passes --provider-dir; the image's default directory must do"
  fi

  # The user: runAsUser/runAsGroup (container, else pod), else the image's USER; fsGroup as a
  # supplementary group and the Secret's group.
  local sc="${c}.securityContext" psc='.spec.template.spec.securityContext'
  local uid gid fs_group
  uid="$(pod "${sc}.runAsUser // ${psc}.runAsUser // empty")"
  gid="$(pod "${sc}.runAsGroup // ${psc}.runAsGroup // empty")"
  uid="${uid:-${image_user%%:*}}"
  gid="${gid:-${image_user##*:}}"
  fs_group="$(pod "${psc}.fsGroup // empty")"
  local read_only no_new_privs caps
  read_only="$(pod "${sc}.readOnlyRootFilesystem // false")"
  # allowPrivilegeEscalation false sets no_new_privs; unset, the runtime leaves it off.
  no_new_privs="$(pod "if ${sc}.allowPrivilegeEscalation == false then true else false end")"
  if [[ "$(pod "${sc}.capabilities.drop // [] | index(\"ALL\") != null")" == true ]]; then
    caps='[]'
  else
    caps="${DEFAULT_CAPS}"
  fi

  # The Secret volume: karmada.config, owned by root (group fsGroup), with the volume's mode
  # (default 0644), mounted read-only where the container mounts it.
  local volume mount_path mode secret_dir="${work}/${name}-secret"
  volume="$(pod "${c}.volumeMounts[] | select(.readOnly) | .name")"
  mount_path="$(pod "${c}.volumeMounts[] | select(.name == \"${volume}\") | .mountPath")"
  mode="$(printf '%o' "$(pod ".spec.template.spec.volumes[] | select(.name == \"${volume}\") | .secret.defaultMode // 420")")"
  install -d -m 0755 "${secret_dir}"
  install -o 0 -g "${fs_group:-0}" -m "${mode}" "${kubeconfig}" "${secret_dir}/karmada.config"

  local bundle="${work}/${name}-bundle"
  cp -a "${work}/bundle" "${bundle}"
  jq --argjson argv "${argv}" --argjson uid "${uid}" --argjson gid "${gid}" \
    --argjson groups "$([[ -n "${fs_group}" ]] && echo "[${fs_group}]" || echo '[]')" \
    --argjson readonly "${read_only}" --argjson nnp "${no_new_privs}" --argjson caps "${caps}" \
    --arg secret "${secret_dir}" --arg mount "${mount_path}" --arg hostname "${container}" '
    .process.args = $argv
    | .process.terminal = false
    | .process.user = {uid: $uid, gid: $gid, additionalGids: $groups}
    | .process.env += ["HOSTNAME=\($hostname)", "NO_COLOR=1"]
    | .process.noNewPrivileges = $nnp
    | .process.capabilities = {bounding: $caps, permitted: [], effective: [], inheritable: [], ambient: []}
    | .root.readonly = $readonly
    | .hostname = $hostname
    | .linux.namespaces |= map(select(.type != "network"))
    | .mounts += [{destination: $mount, type: "bind", source: $secret, options: ["rbind", "ro"]}]
    ' "${bundle}/config.json" >"${bundle}/config.json.new"
  mv "${bundle}/config.json.new" "${bundle}/config.json"

  image::log "${name}: runc run: $(jq -r '.process.args | join(" ")' "${bundle}/config.json")"
  local run_started=${SECONDS}
  runc_ run --bundle "${bundle}" "${container}" </dev/null >"${work}/${container}.log" 2>&1 &
  local runc_pid=$!
  local deadline=$((SECONDS + TIMEOUT))
  until [[ "$(runc_ state "${container}" 2>/dev/null | jq -r .status)" == running ]]; do
    kill -0 "${runc_pid}" 2>/dev/null || image::die "${name}: runc run failed: $(cat "${work}/${container}.log")"
    ((SECONDS < deadline)) || image::die "${name}: the container did not start"
    sleep 0.1
  done
  wait_for "/healthz" curl -fsS "http://127.0.0.1:${health_port}/healthz"
  wait_for "/readyz" curl -fsS "http://127.0.0.1:${health_port}/readyz"

  local pid status
  pid="$(runc_ state "${container}" | jq -r .pid)"
  status="$(cat "/proc/${pid}/status")"
  [[ "$(awk '/^Uid:/ {print $2}' <<<"${status}")" == "${uid}" ]] || image::die "${name}: not running as ${uid}"
  [[ "$(awk '/^CapEff:/ {print $2}' <<<"${status}")" =~ ^0+$ ]] || image::die "${name}: the controller has capabilities"
  [[ "$(awk '/^NoNewPrivs:/ {print $2}' <<<"${status}")" == "$([[ "${no_new_privs}" == true ]] && echo 1 || echo 0)" ]] ||
    image::die "${name}: no_new_privs is not ${no_new_privs}"
  # The container's root as its mounts make it: read-only exactly when the Deployment says so.
  local writable=false
  nsenter --target "${pid}" --mount touch /probe 2>/dev/null && writable=true
  [[ "${writable}" != "${read_only}" ]] ||
    image::die "${name}: readOnlyRootFilesystem is ${read_only}, but the root filesystem writable is ${writable}"

  "${kc[@]}" apply -f "${REPO_ROOT}/examples/mci.yaml" >/dev/null
  wait_for "the MCI's load balancer address 1.2.3.4" mci_ip
  local converged=$((SECONDS - run_started))
  wait_for "the leader-election Lease" lease_holder
  grep -q '/usr/local/lib/multicluster-provider/libmcp_provider_fake.so' "${work}/${container}.log" ||
    image::die "${name}: the fake provider was not loaded from the image's default directory"
  "${kc[@]}" -n default delete multiclusteringress minimal-ingress --wait=false >/dev/null
  wait_for "the MCI's deletion (finalizer removed)" mci_gone

  # SIGTERM, as the kubelet stops a container: exit 0 within terminationGracePeriodSeconds.
  local grace
  grace="$(pod '.spec.template.spec.terminationGracePeriodSeconds')"
  runc_ kill "${container}" TERM
  local exit_code=0
  deadline=$((SECONDS + grace))
  while kill -0 "${runc_pid}" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  kill -0 "${runc_pid}" 2>/dev/null && image::die "${name}: did not stop within ${grace}s of SIGTERM"
  wait "${runc_pid}" || exit_code=$?
  ((exit_code == 0)) || image::die "${name}: exited with ${exit_code} after SIGTERM"
  runc_ delete "${container}" >/dev/null 2>&1 || true
  container=""
  image::log "${name}: ready, MCI address after ${converged}s, deleted, clean exit on SIGTERM"
}

run_deployment ours "${REPO_ROOT}/deploy/multicluster-provider-fake.yaml"
run_deployment go "${REPO_ROOT}/hack/image/go-deployment.yaml"
