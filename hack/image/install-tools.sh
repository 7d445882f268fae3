#!/usr/bin/env bash
# Installs, when missing, the Debian packages the image checks (debootstrap, umoci, runc), the
# deploy-script test and `make lint-shell` need: shellcheck, jq, curl (and util-linux's nsenter
# and flock, binutils' nm and strip, which Debian machines normally have). kubectl comes from
# hack/testenv/build.sh (built from its Go module like kube-apiserver).
#
# Idempotent and quick when everything is there (no apt-get call at all). Needs root and
# apt-get to install; otherwise it names what is missing.
set -o errexit -o nounset -o pipefail

# shellcheck source=hack/image/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# command -> Debian package
declare -A packages=(
  [debootstrap]=debootstrap
  [shellcheck]=shellcheck
  [jq]=jq
  [curl]=curl
  [flock]=util-linux
  [nsenter]=util-linux
  [nm]=binutils
  [strip]=binutils
  [umoci]=umoci
  [runc]=runc
)
missing=()
for tool in "${!packages[@]}"; do
  command -v "${tool}" >/dev/null 2>&1 || missing+=("${packages[${tool}]}")
done
if ((${#missing[@]} > 0)); then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    image::die "missing packages: ${missing[*]} (install them as root: apt-get install ${missing[*]})"
  fi
  image::log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
