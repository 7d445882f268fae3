#!/usr/bin/env bash
# Release build of the controller (`multicluster-provider`) and the fake provider library
# (`libmcp_provider_fake.so`), copied to where the image and the deploy tooling expect them:
#
#   _output/bin/linux/<GOARCH>/multicluster-provider
#   _output/lib/linux/<GOARCH>/libmcp_provider_fake.so
#
# Both come from one `cargo build` (same toolchain, same interface crate). The release profile
# keeps dynamic symbols (strip = "none", lto = false in Cargo.toml). The copies in _output/ lose
# their DWARF line tables (`strip --strip-debug`: 120 MB -> 22 MB for the binary), never their
# symbol tables: the library's abi_stable header symbol is checked with `nm -D` afterwards, and
# the library is loaded by the binary's `inspect` subcommand when the build is for the host.
#
# Environment:
#   GOOS     only `linux` (the default)
#   GOARCH   amd64, arm64, ... (default: the host's); another architecture than the host's
#            needs `rustup target add <triple>` and a linker and C compiler for it (the fake
#            provider compiles SQLite in; the image build instead
#            builds inside an emulated builder stage, see deploy/Dockerfile)
#   CARGO        cargo command (default: cargo)
#   STRIP_DEBUG  `false` keeps the DWARF line tables (file:line in panic backtraces)
#
# Used by `make multicluster-provider-fake` and by deploy/Dockerfile's builder stage.
set -o errexit -o nounset -o pipefail

# shellcheck source=hack/image/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPO_ROOT="$(image::repo_root)"
GOOS="${GOOS:-linux}"
HOST_ARCH="$(image::host_arch)"
GOARCH="${GOARCH:-${HOST_ARCH}}"
CARGO="${CARGO:-cargo}"

[[ "${GOOS}" == linux ]] ||
  image::die "GOOS=${GOOS}: only linux is supported (provider libraries are ELF shared objects)"
triple="$(image::rust_triple "${GOARCH}")"

cd "${REPO_ROOT}"
target_dir="$(image::cargo_target_dir)"
cargo_args=(build --release --locked -p multicluster-provider -p mcp-fake-provider)
if [[ "${GOARCH}" == "${HOST_ARCH}" ]]; then
  release_dir="${target_dir}/release"
else
  cargo_args+=(--target "${triple}")
  release_dir="${target_dir}/${triple}/release"
fi

# jemalloc (the controller's allocator) is built for one page size and refuses to start on a
# kernel with larger pages; arm64 kernels come with 4, 16 or 64 KiB pages, so build for 64 KiB
# there (it works on smaller pages too).
if [[ "${GOARCH}" == arm64 ]]; then
  export JEMALLOC_SYS_WITH_LG_PAGE="${JEMALLOC_SYS_WITH_LG_PAGE:-16}"
fi

image::log "building for linux/${GOARCH}: ${CARGO} ${cargo_args[*]}"
"${CARGO}" "${cargo_args[@]}"

bin_dir="$(image::output_bin "${GOARCH}")"
lib_dir="$(image::output_lib "${GOARCH}")"
mkdir -p "${bin_dir}" "${lib_dir}"
# install(1) writes a new file (no partial overwrite of a binary a test may be running).
install -m 0755 "${release_dir}/multicluster-provider" "${bin_dir}/multicluster-provider"
install -m 0755 "${release_dir}/libmcp_provider_fake.so" "${lib_dir}/libmcp_provider_fake.so"
if [[ "${STRIP_DEBUG:-true}" != false ]]; then
  # --strip-debug drops DWARF only: .symtab and .dynsym (the library header) stay.
  if command -v strip >/dev/null 2>&1; then
    strip --strip-debug "${bin_dir}/multicluster-provider" "${lib_dir}/libmcp_provider_fake.so" ||
      image::log "strip --strip-debug failed (another architecture?): keeping the debug info"
  else
    image::log "strip not found (binutils): keeping the debug info"
  fi
fi

# The loader finds a provider through this dynamic symbol; stripping it breaks loading.
if command -v nm >/dev/null 2>&1; then
  nm -D --defined-only "${lib_dir}/libmcp_provider_fake.so" | grep -q " ${IMAGE_LIB_HEADER_SYMBOL}$" ||
    image::die "${lib_dir}/libmcp_provider_fake.so lacks the dynamic symbol ${IMAGE_LIB_HEADER_SYMBOL} (stripped?)"
else
  image::log "nm not found (binutils): skipping the library header symbol check"
fi

if [[ "${GOARCH}" == "${HOST_ARCH}" ]]; then
  # Load it the way the controller will (header, interface version, layout, name, factory).
  "${bin_dir}/multicluster-provider" inspect "${lib_dir}/libmcp_provider_fake.so" >&2
fi

image::log "built:"
echo "${bin_dir}/multicluster-provider"
echo "${lib_dir}/libmcp_provider_fake.so"
