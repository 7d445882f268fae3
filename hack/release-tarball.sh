#!/usr/bin/env bash
# The release tarball: everything needed to check and try a provider library without Docker and
# without a clone of this repository (docs/vendors.md), for linux on this machine's architecture:
#
#   _output/multicluster-provider-v<version>-linux-<arch>.tar.gz
#     bin/multicluster-provider                 the controller (inspect, verify, the manager)
#     bin/mcp-try-provider                      try a library against a local control plane
#     lib/multicluster-provider/libmcp_provider_fake.so
#     libexec/multicluster-provider/testenv/    etcd and kube-apiserver for mcp-try-provider
#     share/multicluster-provider/examples/     mci.yaml, mcs.yaml, ingressclass-fake.yaml
#     share/multicluster-provider/crates/       mcp-interface-<version>.crate (`cargo package`'s
#                                               output) and the same crate unpacked: what a
#                                               vendor's path dependency points at until the crate
#                                               is on crates.io (docs/vendors.md, "The crate")
#
# Built from `make multicluster-provider-fake`'s release build (same toolchain and interface
# crate as the image), mcp-try-provider from the same cargo build settings, and the control
# plane binaries hack/testenv/build.sh builds (static Go binaries). Prints the tarball's path.
set -o errexit -o nounset -o pipefail

# shellcheck source=hack/image/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/image/lib.sh"

REPO_ROOT="$(image::repo_root)"
GOARCH="$(image::host_arch)"
cd "${REPO_ROOT}"

version="v$(sed -n 's/^version = "\(.*\)"/\1/p' controller/Cargo.toml | head -n 1)"
interface_version="$(sed -n 's/^version = "\(.*\)"/\1/p' interface/Cargo.toml | head -n 1)"
name="multicluster-provider-${version}-linux-${GOARCH}"

GOARCH="${GOARCH}" bash hack/image/build.sh >&2
image::log "building mcp-try-provider"
cargo build --release --locked -p mcp-testenv --bin mcp-try-provider >&2
testenv_bin="$(bash hack/testenv/build.sh)"
# The crate as `cargo publish` would upload it (`make package-interface` checks that it builds
# and packages without warnings; the tarball test builds examples/provider against this copy).
image::log "packaging mcp-interface ${interface_version}"
cargo package --locked --allow-dirty --no-verify -p mcp-interface >&2
crate="$(image::cargo_target_dir)/package/mcp-interface-${interface_version}.crate"

stage="${REPO_ROOT}/_output/release/${name}"
rm -rf "${stage}"
mkdir -p "${stage}/bin" "${stage}/lib/multicluster-provider" \
  "${stage}/libexec/multicluster-provider/testenv" "${stage}/share/multicluster-provider/examples" \
  "${stage}/share/multicluster-provider/crates"
install -m 0755 "$(image::output_bin "${GOARCH}")/multicluster-provider" "${stage}/bin/"
install -m 0755 "$(image::cargo_target_dir)/release/mcp-try-provider" "${stage}/bin/"
install -m 0755 "$(image::output_lib "${GOARCH}")/libmcp_provider_fake.so" "${stage}/lib/multicluster-provider/"
install -m 0755 "${testenv_bin}/etcd" "${testenv_bin}/kube-apiserver" \
  "${stage}/libexec/multicluster-provider/testenv/"
install -m 0644 examples/mci.yaml examples/mcs.yaml examples/ingressclass-fake.yaml \
  "${stage}/share/multicluster-provider/examples/"
install -m 0644 "${crate}" "${stage}/share/multicluster-provider/crates/"
tar -C "${stage}/share/multicluster-provider/crates" -xzf "${crate}"
if command -v strip >/dev/null 2>&1; then
  strip --strip-debug "${stage}/bin/mcp-try-provider"
fi
cat >"${stage}/README.txt" <<MSG
multicluster-provider ${version} (linux/${GOARCH}): the Karmada multicluster cloud provider
controller, without an image. See docs/vendors.md in the repository.

  bin/multicluster-provider inspect PATH/libmcp_provider_NAME.so   # would the controller load it?
  bin/multicluster-provider verify PATH/libmcp_provider_NAME.so    # does it honour the contract?
  bin/mcp-try-provider --cloud-provider=NAME --provider-dir DIR      # try it on a local control plane
  bin/multicluster-provider --cloud-provider=fake --provider-dir lib/multicluster-provider ...

  share/multicluster-provider/crates/mcp-interface-${interface_version}/   # the crate to build a provider against:
    copy it into your crate's vendor/ and depend on it with
    mcp-interface = { path = "vendor/mcp-interface-${interface_version}" }
MSG

tarball="${REPO_ROOT}/_output/${name}.tar.gz"
tar -C "${REPO_ROOT}/_output/release" -czf "${tarball}.tmp" "${name}"
mv -f "${tarball}.tmp" "${tarball}"
image::log "built ${tarball} ($(du -h "${tarball}" | cut -f1))"
echo "${tarball}"
