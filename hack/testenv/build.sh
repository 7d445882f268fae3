#!/usr/bin/env bash
# Builds kube-apiserver and etcd from their Go modules at the versions pinned in
# hack/testenv/{kube-apiserver,etcd}/go.mod, into a cache outside the repository clone, and
# prints the directory holding both binaries. A second run with the same pins is a no-op.
#
#   build.sh           build (if needed) etcd + kube-apiserver, print their directory
#   build.sh kubectl   build (if needed) kubectl of the same Kubernetes release, print its path
#   build.sh karmada   build (if needed) Karmada's control plane (karmada-aggregated-apiserver,
#                      karmada-controller-manager, karmada-scheduler, karmada-webhook; pinned in
#                      hack/testenv/karmada/go.mod) and kube-controller-manager (same Kubernetes
#                      release as kube-apiserver), print their directory. That directory's file
#                      `karmada-module-dir` names the pinned Karmada module in the Go module cache,
#                      where the Karmada mode of testenv reads Karmada's CRDs and manifests.
#
# Concurrent runs are safe: each output directory is built under a lock, and a run that waited
# for another finds the binaries built.
#
#   MCP_TESTENV_CACHE   cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/multicluster-cloud-provider)
#
# No registry ships these binaries and these machines have no container engine, so they are
# compiled here: a fresh machine's first build took about 3.5 minutes on 2 cores
# (see docs/testenv.md); later runs only check the versions.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${MCP_TESTENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/multicluster-cloud-provider}

die() {
  printf 'testenv build: %s\n' "$*" >&2
  exit 1
}

command -v go >/dev/null 2>&1 ||
  die "the Go toolchain is not on PATH. kube-apiserver and etcd are built from their Go modules; install Go >= 1.26 (https://go.dev/doc/install) and run this again."

pinned() { # module go.mod -> version
  awk -v m="$1" '$1 == m && $2 ~ /^v/ { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$2"
}
k8s_version=$(pinned k8s.io/kubernetes "$here/kube-apiserver/go.mod")
etcd_version=$(pinned go.etcd.io/etcd/server/v3 "$here/etcd/go.mod")
[[ -n "$k8s_version" && -n "$etcd_version" ]] || die "could not read the pinned versions from $here/*/go.mod"

# The directory name carries both versions and a hash of the pins, so changing a pin (or go.sum)
# builds into a new directory and an old cache is never mistaken for the new one.
pin_hash=$(cat "$here"/kube-apiserver/go.{mod,sum} "$here"/etcd/go.{mod,sum} | sha256sum | cut -c1-12)
out="$cache_root/testenv/k8s-$k8s_version-etcd-$etcd_version-$pin_hash"
mkdir -p "$out"

# Whether `binary ARGS...` prints `expected`. The output is captured before it is searched: with
# pipefail, `binary | grep -q` fails whenever grep exits at the first match and the binary then
# dies of SIGPIPE on its next line, which made cached binaries look stale and get rebuilt.
prints() { # expected binary args...
  local expected=$1 output
  shift
  [[ -x "$1" ]] || return 1
  output=$("$@" 2>/dev/null) || return 1
  grep -qF -- "$expected" <<<"$output"
}

have_version() { # binary expected-substring
  prints "$2" "$1" --version
}

# Holds an exclusive lock on <dir>/.lock until this script exits, so two overlapping runs never
# build the same binaries twice (the second waits, then finds them up to date).
lock_dir() {
  exec 9>"$1/.lock"
  flock 9
}

build() { # dir package output ldflags
  local dir=$1 pkg=$2 dest=$3 ldflags=$4 log
  log=$(mktemp)
  printf 'testenv build: building %s (first time on this machine; this takes several minutes)\n' "$(basename "$dest")" >&2
  if ! (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "$ldflags" -o "$dest.tmp" "$pkg") >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    if grep -qiE 'dial tcp|proxy|no such host|connection refused|i/o timeout|TLS handshake' "$log"; then
      die "downloading Go modules for $pkg failed (see above). Check that the Go module proxy (GOPROXY=$(go env GOPROXY)) is reachable, then run this again."
    fi
    die "go build $pkg failed (see above; full log: $log)."
  fi
  rm -f "$log"
  mv -f "$dest.tmp" "$dest"
}

start=$(date +%s)
if [[ "${1:-}" == kubectl ]]; then
  kubectl_hash=$(cat "$here"/kubectl/go.{mod,sum} | sha256sum | cut -c1-12)
  kubectl_dir="$cache_root/testenv/kubectl-$k8s_version-$kubectl_hash"
  mkdir -p "$kubectl_dir"
  lock_dir "$kubectl_dir"
  if ! prints "Client Version: $k8s_version" "$kubectl_dir/kubectl" version --client; then
    minor=${k8s_version#v1.}
    minor=${minor%%.*}
    build "$here/kubectl" k8s.io/kubernetes/cmd/kubectl "$kubectl_dir/kubectl" \
      "-s -w -X k8s.io/component-base/version.gitVersion=$k8s_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
  fi
  echo "$kubectl_dir/kubectl"
  exit 0
fi
if [[ "${1:-}" == karmada ]]; then
  karmada_version=$(pinned github.com/karmada-io/karmada "$here/karmada/go.mod")
  kcm_k8s_version=$(pinned k8s.io/kubernetes "$here/kube-controller-manager/go.mod")
  [[ -n "$karmada_version" ]] || die "could not read the pinned Karmada version from $here/karmada/go.mod"
  [[ "$kcm_k8s_version" == "$k8s_version" ]] ||
    die "hack/testenv/kube-controller-manager/go.mod pins k8s.io/kubernetes $kcm_k8s_version but kube-apiserver is $k8s_version; pin the same release in both"
  karmada_hash=$(cat "$here"/karmada/go.{mod,sum} "$here"/kube-controller-manager/go.{mod,sum} | sha256sum | cut -c1-12)
  karmada_dir="$cache_root/testenv/karmada-$karmada_version-k8s-$k8s_version-$karmada_hash"
  mkdir -p "$karmada_dir"
  lock_dir "$karmada_dir"
  # Karmada's CRDs and manifests are read from the pinned module in the Go module cache (never
  # copied into the repository); download it if the cache was cleaned since the last build.
  module_dir=$(cd "$here/karmada" && go mod download -json github.com/karmada-io/karmada | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -n "$module_dir" && -d "$module_dir/charts/karmada/_crds" ]] ||
    die "could not download github.com/karmada-io/karmada $karmada_version (GOPROXY=$(go env GOPROXY)); check that the Go module proxy is reachable"
  printf '%s\n' "$module_dir" >"$karmada_dir/karmada-module-dir"
  karmada_ldflags="-s -w -X github.com/karmada-io/karmada/pkg/version.gitVersion=$karmada_version -X github.com/karmada-io/karmada/pkg/version.gitTreeState=clean"
  for component in aggregated-apiserver controller-manager scheduler webhook; do
    binary="$karmada_dir/karmada-$component"
    if ! prints "GitVersion:\"$karmada_version\"" "$binary" version; then
      build "$here/karmada" "github.com/karmada-io/karmada/cmd/$component" "$binary" "$karmada_ldflags"
      prints "GitVersion:\"$karmada_version\"" "$binary" version ||
        die "the built karmada-$component does not report version $karmada_version"
    fi
  done
  if ! have_version "$karmada_dir/kube-controller-manager" "Kubernetes $k8s_version"; then
    minor=${k8s_version#v1.}
    minor=${minor%%.*}
    build "$here/kube-controller-manager" k8s.io/kubernetes/cmd/kube-controller-manager "$karmada_dir/kube-controller-manager" \
      "-s -w -X k8s.io/component-base/version.gitVersion=$k8s_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
    have_version "$karmada_dir/kube-controller-manager" "Kubernetes $k8s_version" ||
      die "the built kube-controller-manager does not report version $k8s_version"
  fi
  took=$(($(date +%s) - start))
  [[ $took -lt 5 ]] || printf 'testenv build: done in %ss\n' "$took" >&2
  echo "$karmada_dir"
  exit 0
fi
lock_dir "$out"
if ! have_version "$out/etcd" "etcd Version: ${etcd_version#v}"; then
  build "$here/etcd" go.etcd.io/etcd/server/v3 "$out/etcd" "-s -w"
  have_version "$out/etcd" "etcd Version: ${etcd_version#v}" || die "the built etcd does not report version $etcd_version"
fi
if ! have_version "$out/kube-apiserver" "Kubernetes $k8s_version"; then
  minor=${k8s_version#v1.}
  minor=${minor%%.*}
  build "$here/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver "$out/kube-apiserver" \
    "-s -w -X k8s.io/component-base/version.gitVersion=$k8s_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
  have_version "$out/kube-apiserver" "Kubernetes $k8s_version" || die "the built kube-apiserver does not report version $k8s_version"
fi
took=$(($(date +%s) - start))
[[ $took -lt 5 ]] || printf 'testenv build: done in %ss\n' "$took" >&2
echo "$out"
