#!/usr/bin/env bash
# Shared helpers of hack/image/*.sh and hack/deploy-provider.sh. Source it; it sets no options.

# The repository root (absolute).
image::repo_root() {
  cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd
}

# The host's architecture in Go's spelling (amd64, arm64, ...), as GOARCH defaults to.
image::host_arch() {
  case "$(uname -m)" in
    x86_64 | amd64) echo amd64 ;;
    aarch64 | arm64) echo arm64 ;;
    ppc64le) echo ppc64le ;;
    s390x) echo s390x ;;
    riscv64) echo riscv64 ;;
    *) uname -m ;;
  esac
}

# The Rust target triple of a Go-spelled Linux architecture.
image::rust_triple() {
  case "$1" in
    amd64) echo x86_64-unknown-linux-gnu ;;
    arm64) echo aarch64-unknown-linux-gnu ;;
    ppc64le) echo powerpc64le-unknown-linux-gnu ;;
    s390x) echo s390x-unknown-linux-gnu ;;
    riscv64) echo riscv64gc-unknown-linux-gnu ;;
    *)
      echo "unsupported GOARCH $1 (supported: amd64, arm64, ppc64le, s390x, riscv64)" >&2
      return 1
      ;;
  esac
}

# The cargo target directory (CARGO_TARGET_DIR or <repo>/target).
image::cargo_target_dir() {
  echo "${CARGO_TARGET_DIR:-$(image::repo_root)/target}"
}

# Where `make multicluster-provider-fake` puts the controller binary and the fake provider.
image::output_bin() { echo "$(image::repo_root)/_output/bin/linux/$1"; }
image::output_lib() { echo "$(image::repo_root)/_output/lib/linux/$1"; }

# The cache root shared with hack/testenv/build.sh (outside the clone).
image::cache_root() {
  echo "${MCP_TESTENV_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/multicluster-cloud-provider}"
}

# The dynamic symbol abi_stable's loader looks up; a provider library without it cannot load.
IMAGE_LIB_HEADER_SYMBOL="_1as_0lib_1header_0root_bmodule_bloader"
export IMAGE_LIB_HEADER_SYMBOL

image::log() { echo "$(basename "$0"): $*" >&2; }
image::die() {
  image::log "error: $*"
  exit 1
}
