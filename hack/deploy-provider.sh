#!/usr/bin/env bash
# Deploys multicluster-provider-fake into a Karmada installation whose host cluster is a kind
# cluster (as Karmada's hack/local-up-karmada.sh makes): the Go original's steps and variables.
#
#   hack/deploy-provider.sh
#
# step1  build the image                        make image-multicluster-provider-fake
# step2  load it into the kind host cluster     kind load docker-image
# step3  RBAC on the Karmada API server         deploy/karmada-rbac.yaml
# step4  the kubeconfig Secret on the host      multicluster-provider-config (key karmada.config)
# step5  the Deployment on the host, and wait   deploy/multicluster-provider-fake.yaml
# step6  the IngressClass on the Karmada API    deploy/ingressclass-fake.yaml
#
# Every step can be re-run (apply, not create). Remove the Deployment with:
#   kubectl --context karmada-host -n karmada-system delete deployments.apps multicluster-provider-fake
# (docs/operators.md lists the commands that remove the rest.)
#
# Environment (the original's first):
#   KUBECONFIG_PATH           directory of the kubeconfig (default ~/.kube)
#   MAIN_KUBECONFIG           kubeconfig with both contexts (default $KUBECONFIG_PATH/karmada.config)
#   HOST_CLUSTER_NAME         host cluster context and kind cluster name (default karmada-host)
#   KARMADA_APISERVER         Karmada API server context (default karmada-apiserver)
#   KARMADA_SYSTEM_NAMESPACE  namespace on the host (default karmada-system)
#   REGISTRY, VERSION         image is $REGISTRY/multicluster-provider-fake:$VERSION
#                             (default docker.io/karmada, latest)
#   PROVIDER_KUBECONFIG       kubeconfig to put into the Secret; default: the Karmada API server
#                             context of MAIN_KUBECONFIG, minified (only that context, with its
#                             credentials embedded). Use a least-privilege identity here: the user
#                             or ServiceAccount `multicluster-provider` that step3 binds.
#   SKIP_IMAGE=true           skip step1 and step2 (the image is already in the cluster)
#   SKIP_WAIT=true            do not wait for the Deployment to be ready
#   DRY_RUN=true              server-side dry run of every kubectl step; no image, no wait
#   WAIT_TIMEOUT              how long to wait for the rollout (default 120s)
#   KUBECTL                   kubectl command (default: kubectl on PATH)
set -o errexit -o nounset -o pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# step0: variable define
KARMADA_SYSTEM_NAMESPACE="${KARMADA_SYSTEM_NAMESPACE:-karmada-system}"
KUBECONFIG_PATH="${KUBECONFIG_PATH:-"${HOME}/.kube"}"
MAIN_KUBECONFIG="${MAIN_KUBECONFIG:-"${KUBECONFIG_PATH}/karmada.config"}"
HOST_CLUSTER_NAME="${HOST_CLUSTER_NAME:-"karmada-host"}"
KARMADA_APISERVER="${KARMADA_APISERVER:-"karmada-apiserver"}"
export VERSION="${VERSION:-latest}"
export REGISTRY="${REGISTRY:-docker.io/karmada}"
PROVIDER_KUBECONFIG="${PROVIDER_KUBECONFIG:-}"
DRY_RUN="${DRY_RUN:-false}"
SKIP_IMAGE="${SKIP_IMAGE:-false}"
SKIP_WAIT="${SKIP_WAIT:-false}"
WAIT_TIMEOUT="${WAIT_TIMEOUT:-120s}"
KUBECTL="${KUBECTL:-kubectl}"
IMAGE="${REGISTRY}/multicluster-provider-fake:${VERSION}"
DEPLOYMENT_MANIFEST="${REPO_ROOT}/deploy/multicluster-provider-fake.yaml"
MANIFEST_IMAGE="docker.io/karmada/multicluster-provider-fake:latest"

export KUBECONFIG="${MAIN_KUBECONFIG}"

log() { echo "deploy-provider: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

[[ -f "${MAIN_KUBECONFIG}" ]] || die "MAIN_KUBECONFIG ${MAIN_KUBECONFIG} does not exist"
command -v "${KUBECTL}" >/dev/null 2>&1 || die "kubectl not found (set KUBECTL)"
for context in "${HOST_CLUSTER_NAME}" "${KARMADA_APISERVER}"; do
  "${KUBECTL}" config get-contexts "${context}" >/dev/null 2>&1 ||
    die "context ${context} is not in ${MAIN_KUBECONFIG} (set HOST_CLUSTER_NAME / KARMADA_APISERVER)"
done

apply_flags=()
if [[ "${DRY_RUN}" == true ]]; then
  apply_flags+=(--dry-run=server)
  SKIP_IMAGE=true
  SKIP_WAIT=true
  log "DRY_RUN: every change is a server-side dry run"
fi
host=("${KUBECTL}" --context="${HOST_CLUSTER_NAME}")
karmada=("${KUBECTL}" --context="${KARMADA_APISERVER}")

tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT

if [[ "${SKIP_IMAGE}" != true ]]; then
  # step1: make image
  log "step1: building ${IMAGE}"
  make image-multicluster-provider-fake GOOS="linux" --directory="${REPO_ROOT}"

  # step2: load image
  log "step2: loading ${IMAGE} into kind cluster ${HOST_CLUSTER_NAME}"
  command -v kind >/dev/null 2>&1 || die "kind not found (set SKIP_IMAGE=true if the image is already there)"
  kind load docker-image "${IMAGE}" --name="${HOST_CLUSTER_NAME}"
else
  log "step1, step2: skipped (SKIP_IMAGE=true)"
fi

# step3: what the provider's identity may do on the Karmada API server
log "step3: RBAC on ${KARMADA_APISERVER}"
"${karmada[@]}" apply "${apply_flags[@]}" -f "${REPO_ROOT}/deploy/karmada-rbac.yaml"

# step4: create multicluster-provider-config secret to access karmada-apiserver
log "step4: Secret multicluster-provider-config on ${HOST_CLUSTER_NAME}"
if [[ -n "${PROVIDER_KUBECONFIG}" ]]; then
  [[ -f "${PROVIDER_KUBECONFIG}" ]] || die "PROVIDER_KUBECONFIG ${PROVIDER_KUBECONFIG} does not exist"
  cp "${PROVIDER_KUBECONFIG}" "${tmp}/karmada.config"
else
  # Only the Karmada API server's context, with its certificates embedded: the host cluster's
  # credentials stay out of the Secret.
  "${KUBECTL}" config view --context="${KARMADA_APISERVER}" --minify --flatten >"${tmp}/karmada.config"
fi
"${host[@]}" -n "${KARMADA_SYSTEM_NAMESPACE}" create secret generic multicluster-provider-config \
  --from-file=karmada.config="${tmp}/karmada.config" --dry-run=client -o yaml |
  "${host[@]}" apply "${apply_flags[@]}" -f -

# step5: deploy multicluster-provider-fake
log "step5: Deployment multicluster-provider-fake (${IMAGE}) on ${HOST_CLUSTER_NAME}"
grep -q "image: ${MANIFEST_IMAGE}$" "${DEPLOYMENT_MANIFEST}" ||
  die "${DEPLOYMENT_MANIFEST} no longer names ${MANIFEST_IMAGE}"
sed -e "s#image: ${MANIFEST_IMAGE}\$#image: ${IMAGE}#" \
  -e "s#namespace: karmada-system\$#namespace: ${KARMADA_SYSTEM_NAMESPACE}#" \
  "${DEPLOYMENT_MANIFEST}" >"${tmp}/deployment.yaml"
"${host[@]}" apply "${apply_flags[@]}" -f "${tmp}/deployment.yaml"
if [[ "${SKIP_WAIT}" != true ]]; then
  log "waiting for multicluster-provider-fake to be ready (${WAIT_TIMEOUT})"
  if ! "${host[@]}" -n "${KARMADA_SYSTEM_NAMESPACE}" rollout status deployment/multicluster-provider-fake \
    --timeout="${WAIT_TIMEOUT}"; then
    log "kubectl describe info:"
    "${host[@]}" -n "${KARMADA_SYSTEM_NAMESPACE}" describe pod -l app=multicluster-provider-fake || true
    log "kubectl logs info:"
    "${host[@]}" -n "${KARMADA_SYSTEM_NAMESPACE}" logs -l app=multicluster-provider-fake --tail=50 || true
    die "multicluster-provider-fake did not become ready"
  fi
else
  log "not waiting for the Deployment (SKIP_WAIT=true)"
fi

# step6: deploy ingressclass-fake
log "step6: IngressClass fake on ${KARMADA_APISERVER}"
"${karmada[@]}" apply "${apply_flags[@]}" -f "${REPO_ROOT}/deploy/ingressclass-fake.yaml"

log "done. Try it: kubectl --context ${KARMADA_APISERVER} apply -f examples/application.yaml -f examples/mci.yaml"
log "remove it: kubectl --context ${HOST_CLUSTER_NAME} -n ${KARMADA_SYSTEM_NAMESPACE} delete deployments.apps multicluster-provider-fake"
