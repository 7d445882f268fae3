#!/usr/bin/env bash
# A loadable OCI image archive of the runtime stage, built without a daemon: the root filesystem
# of hack/image/rootfs.sh (debootstrap of the Dockerfile's base release + the runtime stage
# replayed with the artifacts of `make multicluster-provider-fake`), packed by umoci with the
# stage's USER, ENV, ENTRYPOINT, CMD and LABELs.
#
#   _output/multicluster-provider-fake-oci.tar   (an OCI image layout, tagged $VERSION)
#
# Load it with `podman load -i FILE`, or
# `skopeo copy oci-archive:FILE:$VERSION docker-daemon:$REGISTRY/multicluster-provider-fake:$VERSION`.
# The base is Debian's minbase of the same release, not the debian:<release>-slim image itself
# (which also removes documentation and locales), so it is somewhat larger.
#
# Needs root, debootstrap, umoci, jq (apt-get install umoci). Environment: GOARCH (host's only),
# REGISTRY, VERSION, DEBIAN_MIRROR.
set -o errexit -o nounset -o pipefail

# shellcheck source=hack/image/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=hack/image/rootfs.sh
source "$(dirname "${BASH_SOURCE[0]}")/rootfs.sh"

REPO_ROOT="$(image::repo_root)"
GOARCH="${GOARCH:-$(image::host_arch)}"
REGISTRY="${REGISTRY:-docker.io/karmada}"
VERSION="${VERSION:-latest}"
archive="${REPO_ROOT}/_output/multicluster-provider-fake-oci.tar"

[[ "$(id -u)" == 0 ]] || image::die "needs root (debootstrap, chroot, file ownership)"
for tool in debootstrap umoci jq; do
  command -v "${tool}" >/dev/null 2>&1 ||
    image::die "${tool} not found (apt-get install ${tool})"
done
[[ "${GOARCH}" == "$(image::host_arch)" ]] ||
  image::die "GOARCH=${GOARCH}: only the host's architecture ($(image::host_arch)) can be assembled here"

work="$(mktemp -d "${TMPDIR:-/tmp}/mcp-oci-archive.XXXXXX")"
trap 'rm -rf "${work}"' EXIT

rootfs::parse "${GOARCH}"
rootfs::base
rootfs::replay "${work}/rootfs"

layout="${work}/layout"
image="${layout}:${VERSION}"
umoci init --layout "${layout}"
umoci new --image "${image}"
umoci unpack --image "${image}" "${work}/bundle" >/dev/null
cp -a "${work}/rootfs/." "${work}/bundle/rootfs/"
umoci repack --image "${image}" "${work}/bundle"

config=(--image "${image}" --os linux --architecture "${GOARCH}"
  --config.user "${ROOTFS_USER}" --clear=config.env --clear=config.entrypoint --clear=config.cmd)
for variable in "${ROOTFS_ENV[@]}"; do config+=(--config.env "${variable}"); done
for word in "${ROOTFS_ENTRYPOINT[@]}"; do config+=(--config.entrypoint "${word}"); done
for word in "${ROOTFS_CMD[@]}"; do config+=(--config.cmd "${word}"); done
for label in "${ROOTFS_LABELS[@]}"; do config+=(--config.label "${label}"); done
config+=(--config.label "org.opencontainers.image.version=${VERSION}"
  --manifest.annotation "org.opencontainers.image.ref.name=${VERSION}")
umoci config "${config[@]}"
umoci gc --layout "${layout}"

# Check the result: the config is what the Dockerfile says, and the layer holds the artifacts.
stat_json="$(umoci stat --image "${image}" --json)"
jq -e --arg user "${ROOTFS_USER}" '.history | length >= 1' <<<"${stat_json}" >/dev/null
umoci unpack --image "${image}" "${work}/check" >/dev/null
[[ "$(jq -r '.process.user.uid' "${work}/check/config.json")" == "${ROOTFS_USER%%:*}" ]] ||
  image::die "the image's user is not ${ROOTFS_USER}"
jq -e --arg entry "${ROOTFS_ENTRYPOINT[0]}" '.process.args[0] == $entry' "${work}/check/config.json" >/dev/null ||
  image::die "the image's entrypoint is not ${ROOTFS_ENTRYPOINT[0]}"
for path in usr/local/bin/multicluster-provider usr/local/lib/multicluster-provider/libmcp_provider_fake.so; do
  [[ -f "${work}/check/rootfs/${path}" ]] || image::die "/${path} is not in the image"
done

mkdir -p "$(dirname "${archive}")"
tar -C "${layout}" -cf "${archive}.partial" .
mv "${archive}.partial" "${archive}"
image::log "OCI archive: ${archive} ($(du -h "${archive}" | cut -f1)), tag ${VERSION}"
image::log "load it: podman load -i ${archive}   or"
image::log "  skopeo copy oci-archive:${archive}:${VERSION} docker-daemon:${REGISTRY}/multicluster-provider-fake:${VERSION}"
