#!/usr/bin/env bash
# Builds the image of a target (only multicluster-provider-fake) from deploy/Dockerfile with the
# first usable builder: docker (with a reachable engine), podman, then buildah.
#
# Usage:
#   hack/image/docker.sh multicluster-provider-fake
# Environment (the Go original's names):
#   REGISTRY           image registry (default docker.io/karmada)
#   VERSION            image tag (default latest)
#   GOARCH             architecture (default: the host's); another one builds with
#                      `docker buildx` / `--platform` (needs QEMU binfmt for the builder stage)
#   OUTPUT_TYPE        docker (default: into the local image store) or registry (also push)
#   DOCKER_BUILD_ARGS  more arguments for the build command
#   IMAGE_BUILDER      force docker, podman or buildah
set -o errexit -o nounset -o pipefail

# shellcheck source=hack/image/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPO_ROOT="$(image::repo_root)"
target="${1:-multicluster-provider-fake}"
[[ "${target}" == multicluster-provider-fake ]] ||
  image::die "unknown image target ${target} (known: multicluster-provider-fake)"
REGISTRY="${REGISTRY:-docker.io/karmada}"
VERSION="${VERSION:-latest}"
GOARCH="${GOARCH:-$(image::host_arch)}"
OUTPUT_TYPE="${OUTPUT_TYPE:-docker}"
DOCKER_BUILD_ARGS="${DOCKER_BUILD_ARGS:-}"
image_name="${REGISTRY}/${target}:${VERSION}"
platform="linux/${GOARCH}"
image::rust_triple "${GOARCH}" >/dev/null

# Why each candidate is unusable, for the error message.
reasons=()

usable() {
  local builder=$1
  if ! command -v "${builder}" >/dev/null 2>&1; then
    reasons+=("${builder}: not installed")
    return 1
  fi
  local out
  case "${builder}" in
    docker)
      if ! out="$(docker info --format '{{.ServerVersion}}' 2>&1)"; then
        reasons+=("docker: the CLI is installed but no engine answers ($(echo "${out}" | tail -n 1))")
        return 1
      fi
      ;;
    podman | buildah)
      if ! out="$("${builder}" info 2>&1)"; then
        reasons+=("${builder}: installed but \`${builder} info\` fails ($(echo "${out}" | tail -n 1))")
        return 1
      fi
      ;;
  esac
}

builder=""
for candidate in ${IMAGE_BUILDER:-docker podman buildah}; do
  if usable "${candidate}"; then
    builder="${candidate}"
    break
  fi
done
if [[ -z "${builder}" ]]; then
  image::log "error: no usable container image builder for ${image_name}:"
  for reason in "${reasons[@]}"; do
    image::log "  - ${reason}"
  done
  image::log "Run this on a machine with a Docker engine, or install podman or buildah."
  image::log "Without an engine, \`make image-runc-test\` builds the image as an OCI archive"
  image::log "(same base release, same paths, same user) and runs it with runc instead."
  exit 1
fi

# Word-split DOCKER_BUILD_ARGS on purpose, as the original does.
read -r -a extra_args <<<"${DOCKER_BUILD_ARGS}"
common=(--file "${REPO_ROOT}/deploy/Dockerfile" --tag "${image_name}" "${extra_args[@]}")

image::log "building ${image_name} for ${platform} with ${builder}"
set -x
case "${builder}" in
  docker)
    if [[ "${GOARCH}" == "$(image::host_arch)" ]]; then
      DOCKER_BUILDKIT=1 docker build "${common[@]}" "${REPO_ROOT}"
      [[ "${OUTPUT_TYPE}" != registry ]] || docker push "${image_name}"
    else
      docker buildx build --platform "${platform}" --output "type=${OUTPUT_TYPE}" \
        "${common[@]}" "${REPO_ROOT}"
    fi
    ;;
  podman | buildah)
    "${builder}" build --platform "${platform}" --layers "${common[@]}" "${REPO_ROOT}"
    [[ "${OUTPUT_TYPE}" != registry ]] || "${builder}" push "${image_name}"
    ;;
esac
