#!/usr/bin/env bash
# Uses the release tarball as a vendor would, outside the repository: unpacks it into a fresh
# directory, builds examples/provider's sources as a crate of their own against the tarball's
# mcp-interface crate with the dependency line of docs/vendors.md, and runs
# `inspect`, `verify` (of the release build and of a debug build) and `mcp-try-provider` from
# there (with no MCP_TESTENV_BIN_DIR: the control plane binaries come from the tarball).
set -o errexit -o nounset -o pipefail

# shellcheck source=hack/image/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/image/lib.sh"

REPO_ROOT="$(image::repo_root)"
tarball="$(bash "${REPO_ROOT}/hack/release-tarball.sh")"

scratch="$(mktemp -d)"
trap 'rm -rf "${scratch}"' EXIT
tar -C "${scratch}" -xzf "${tarball}"
kit="$(find "${scratch}" -mindepth 1 -maxdepth 1 -type d -name 'multicluster-provider-*')"

# The vendor's crate: examples/provider's sources and Cargo.lock in a directory of its own, with
# mcp-interface vendored from the tarball and the dependency line docs/vendors.md gives (built
# --locked: the documented line resolves to the example's own Cargo.lock).
interface_version="$(sed -n 's/^version = "\(.*\)"/\1/p' "${REPO_ROOT}/interface/Cargo.toml" | head -n 1)"
documented="$(grep -m 1 '^mcp-interface = { path = "vendor/' "${REPO_ROOT}/docs/vendors.md")" ||
  image::die "docs/vendors.md shows no path dependency on a vendored mcp-interface"
crate="${scratch}/mycloud"
mkdir -p "${crate}/vendor"
cp -R "${REPO_ROOT}/examples/provider/src" "${REPO_ROOT}/examples/provider/Cargo.lock" "${crate}/"
cp -R "${kit}/share/multicluster-provider/crates/mcp-interface-${interface_version}" "${crate}/vendor/"
awk -v line="${documented}" '/^mcp-interface = \{ path = / { print line; next } { print }' \
  "${REPO_ROOT}/examples/provider/Cargo.toml" >"${crate}/Cargo.toml"
grep -qxF "${documented}" "${crate}/Cargo.toml" || image::die "examples/provider has no path dependency to replace"

image::log "building examples/provider (release) against the tarball's mcp-interface ${interface_version}"
cargo build --release --locked --manifest-path "${crate}/Cargo.toml" \
  --target-dir "$(image::cargo_target_dir)/examples" >&2
cargo metadata --locked --format-version=1 --manifest-path "${crate}/Cargo.toml" |
  grep -qF "\"manifest_path\":\"${crate}/vendor/mcp-interface-${interface_version}/Cargo.toml\"" ||
  image::die "mcp-interface did not come from the tarball's crate"
vendor="${scratch}/vendor"
mkdir -p "${vendor}"
cp "$(image::cargo_target_dir)/examples/release/libmcp_provider_example.so" "${vendor}/"
cd "${vendor}"

"${kit}/bin/multicluster-provider" inspect --provider-dir "${kit}/lib/multicluster-provider" fake >&2
"${kit}/bin/multicluster-provider" inspect ./libmcp_provider_example.so >&2
"${kit}/bin/multicluster-provider" -v=1 verify --expect multiclusteringress,multiclusterservice \
  ./libmcp_provider_example.so >"${scratch}/verify.txt"
grep -q '^PASS: ' "${scratch}/verify.txt" || { cat "${scratch}/verify.txt" >&2; image::die "verify did not pass"; }

# A debug build loads in the release controller as well (docs/vendors.md).
image::log "building examples/provider (debug) against the tarball's mcp-interface"
cargo build --locked --manifest-path "${crate}/Cargo.toml" \
  --target-dir "$(image::cargo_target_dir)/examples" >&2
mkdir -p "${scratch}/debug"
cp "$(image::cargo_target_dir)/examples/debug/libmcp_provider_example.so" "${scratch}/debug/"
"${kit}/bin/multicluster-provider" -v=1 verify --expect multiclusteringress,multiclusterservice \
  "${scratch}/debug/libmcp_provider_example.so" >"${scratch}/verify-debug.txt" ||
  { cat "${scratch}/verify-debug.txt" >&2; image::die "verify of the debug build did not pass"; }

env -u MCP_TESTENV_BIN_DIR "${kit}/bin/mcp-try-provider" --cloud-provider=example --provider-dir=. \
  >"${scratch}/try.txt"
cat "${scratch}/try.txt" >&2
grep -q '"hostname":"minimal-ingress.default.lb.example.com"' "${scratch}/try.txt" ||
  image::die "mcp-try-provider did not show the MultiClusterIngress's hostname"
grep -q '"ip":"198.51.100.1"' "${scratch}/try.txt" ||
  image::die "mcp-try-provider did not show the MultiClusterService's address"
[ "$(grep -c '^  get after ensure and after update: valid$' "${scratch}/try.txt")" -eq 2 ] ||
  image::die "mcp-try-provider did not read both balancers back"
image::log "release tarball OK: ${tarball}"
