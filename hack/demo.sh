#!/usr/bin/env bash
# The main job on a fresh machine (`make demo`): start the local Karmada-shaped control plane,
# run the controller with the fake provider library, apply the example objects, and show the
# MultiClusterIngress's status with its load balancer address. Leaves everything running and
# prints the kubeconfig; `make demo-down` stops it all.
#
#   MCP_DEMO_DIR         where the controller's log and pid go
#                        (default ${XDG_STATE_HOME:-~/.local/state}/multicluster-provider/demo)
#   MCP_DEMO_HEALTH_PORT health port (default 10368), MCP_DEMO_METRICS_PORT (default 8080)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

state_dir=${MCP_DEMO_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/multicluster-provider/demo}
health_port=${MCP_DEMO_HEALTH_PORT:-10368}
metrics_port=${MCP_DEMO_METRICS_PORT:-8080}
mkdir -p "$state_dir"
say() { printf '\n==> %s\n' "$*"; }

# GET /readyz with bash alone (no curl needed): true on HTTP 200.
ready() {
  local status
  { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
  printf 'GET /readyz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
  read -r _ status _ <&3 || true
  exec 3>&-
  [[ "$status" == 200 ]]
}

stop_controller() {
  if [[ -f "$state_dir/controller.pid" ]]; then
    local pid
    pid=$(cat "$state_dir/controller.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    fi
    rm -f "$state_dir/controller.pid"
  fi
}

if [[ "${1:-}" == down ]]; then
  stop_controller
  cargo run --quiet -p mcp-testenv --bin mcp-testenv -- down
  exit 0
fi

say "Building kube-apiserver, etcd and kubectl from their Go modules (first time only)"
bash hack/testenv/build.sh >/dev/null
kubectl=$(bash hack/testenv/build.sh kubectl)

say "Building the controller and the fake provider library"
cargo build -p multicluster-provider -p mcp-fake-provider
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
bin_dir="$target_dir/debug"

say "Starting the local control plane"
kubeconfig=$(cargo run --quiet -p mcp-testenv --bin mcp-testenv -- up | tail -n 1)
k() { "$kubectl" --kubeconfig "$kubeconfig" "$@"; }
k create namespace karmada-system --dry-run=client -o yaml | k apply -f - >/dev/null

say "Checking the provider library"
"$bin_dir/multicluster-provider" inspect --provider-dir "$bin_dir" --cloud-provider=fake

say "Applying the examples: IngressClass fake, mci.yaml, application.yaml, and what Karmada would add"
k apply -f examples/ingressclass-fake.yaml -f examples/mci.yaml -f examples/application.yaml \
  -f examples/demo/karmada-state.yaml

say "Starting the controller (log: $state_dir/controller.log)"
stop_controller
"$bin_dir/multicluster-provider" \
  --cloud-provider=fake --provider-dir "$bin_dir" \
  --provider-ingress-class=karmada.io/fake \
  --kubeconfig "$kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$health_port" \
  --metrics-bind-address="127.0.0.1:$metrics_port" \
  >"$state_dir/controller.log" 2>&1 &
echo $! >"$state_dir/controller.pid"
for _ in $(seq 1 100); do
  if ! kill -0 "$(cat "$state_dir/controller.pid")" 2>/dev/null; then
    tail -n 20 "$state_dir/controller.log" >&2
    echo "demo: the controller exited (see above)" >&2
    exit 1
  fi
  ready "$health_port" && break
  sleep 0.2
done


say "Waiting for the MultiClusterIngress to get its load balancer"
ip=""
for _ in $(seq 1 100); do
  ip=$(k get multiclusteringress minimal-ingress -o jsonpath='{.status.loadBalancer.ingress[0].ip}' 2>/dev/null || true)
  locations=$(k get multiclusteringress minimal-ingress -o jsonpath='{.status.serviceLocations}' 2>/dev/null || true)
  [[ -n "$ip" && -n "$locations" ]] && break
  sleep 0.2
done
if [[ -z "$ip" ]]; then
  tail -n 30 "$state_dir/controller.log" >&2
  echo "demo: the MultiClusterIngress got no address (controller log above)" >&2
  exit 1
fi
k get multiclusteringress minimal-ingress -o yaml | sed -n '/^status:/,$p'
echo
k get serviceexports,propagationpolicies -n default
k get clusterpropagationpolicies

cat <<MSG

The MultiClusterIngress default/minimal-ingress has load balancer address $ip.

Play with it:
  export KUBECONFIG=$kubeconfig
  alias kubectl=$kubectl
  kubectl get mci minimal-ingress -o yaml
  kubectl delete mci minimal-ingress      # the fake deletes its balancer, then the finalizer goes
  curl -s http://127.0.0.1:$metrics_port/metrics | grep multicluster_provider_
  tail -f $state_dir/controller.log

Stop everything: make demo-down
MSG
