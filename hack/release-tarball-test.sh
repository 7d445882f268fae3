#!/usr/bin/env bash
# Uses the release tarball as a vendor would, outside the repository: unpacks it into a fresh
# directory, builds examples/provider's library into a vendor directory of its own, and runs
# `inspect`, `verify` and `mcp-try-provider` from there (with no MCP_TESTENV_BIN_DIR: the
# control plane binaries come from the tarball).
set -o errexit -o nounset -o pipefail

# shellcheck source=hack/image/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/image/lib.sh"

REPO_ROOT="$(image::repo_root)"
tarball="$(bash "${REPO_ROOT}/hack/release-tarball.sh")"

scratch="$(mktemp -d)"
trap 'rm -rf "${scratch}"' EXIT
tar -C "${scratch}" -xzf "${tarball}"
kit="$(find "${scratch}" -mindepth 1 -maxdepth 1 -type d -name 'multicluster-provider-*')"

image::log "building examples/provider (release) into a vendor directory"
cargo build --release --manifest-path "${REPO_ROOT}/examples/provider/Cargo.toml" \
  --target-dir "$(image::cargo_target_dir)/examples" >&2
vendor="${scratch}/vendor"
mkdir -p "${vendor}"
cp "$(image::cargo_target_dir)/examples/release/libmcp_provider_example.so" "${vendor}/"
cd "${vendor}"

"${kit}/bin/multicluster-provider" inspect --provider-dir "${kit}/lib/multicluster-provider" fake >&2
"${kit}/bin/multicluster-provider" inspect ./libmcp_provider_example.so >&2
"${kit}/bin/multicluster-provider" -v=1 verify ./libmcp_provider_example.so >"${scratch}/verify.txt"
grep -q '^PASS: ' "${scratch}/verify.txt" || { cat "${scratch}/verify.txt" >&2; image::die "verify did not pass"; }

env -u MCP_TESTENV_BIN_DIR "${kit}/bin/mcp-try-provider" --cloud-provider=example --provider-dir=. \
  >"${scratch}/try.txt"
cat "${scratch}/try.txt" >&2
grep -q '"hostname":"minimal-ingress.default.lb.example.com"' "${scratch}/try.txt" ||
  image::die "mcp-try-provider did not show the MultiClusterIngress's hostname"
grep -q '"ip":"198.51.100.1"' "${scratch}/try.txt" ||
  image::die "mcp-try-provider did not show the MultiClusterService's address"
image::log "release tarball OK: ${tarball}"
