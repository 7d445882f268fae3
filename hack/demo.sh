#!/usr/bin/env bash
# The main job on a fresh machine (`make demo`): start Karmada v1.16 locally (its own components
# and two member clusters, testenv's Karmada mode), run the controller with the fake provider
# library, walk through the seed's example (the IngressClass, mci.yaml, application.yaml; no
# Karmada state is written by hand) and show the MultiClusterIngress's status, the ServiceExport
# and its CRD in both member clusters. Then, as member clusters here have no nodes, it writes in
# member1 and member2 the EndpointSlice kube-controller-manager would write for running `serve`
# pods (member-side only: `mcp-testenv endpoint-slice`), Karmada collects them into the control
# plane, and it prints the backend view the fake provider got (interface 1.2), read from the
# fake's state file with `mcp-fake-state`. Leaves everything running and prints the kubeconfigs;
# `make demo-down` stops it all.
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
# Shows the end of the controller's log, says what failed, and stops.
give_up() {
  tail -n 30 "$state_dir/controller.log" >&2
  echo "demo: $* (controller log above)" >&2
  exit 1
}

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


say "Building kube-apiserver, etcd, kubectl and Karmada's components from their Go modules (first time only)"
bash hack/testenv/build.sh >/dev/null
bash hack/testenv/build.sh karmada >/dev/null
kubectl=$(bash hack/testenv/build.sh kubectl)

say "Building the controller and the fake provider library"
cargo build -p multicluster-provider -p mcp-fake-provider -p mcp-testenv
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
bin_dir="$target_dir/debug"

say "Starting Karmada v1.16 (API server, aggregated API server, webhook, scheduler, controller manager) with member clusters member1 and member2"
stop_controller
"$bin_dir/mcp-testenv" down >/dev/null 2>&1 || true
kubeconfig=$("$bin_dir/mcp-testenv" up --karmada | tail -n 1)
testenv_state=$(dirname "$kubeconfig")
members="$testenv_state/kubeconfigs"
k() { "$kubectl" --kubeconfig "$kubeconfig" "$@"; }
m() { local member=$1; shift; "$kubectl" --kubeconfig "$members/$member.config" "$@"; }
k get clusters

say "Checking the provider library"
"$bin_dir/multicluster-provider" inspect --provider-dir "$bin_dir" --cloud-provider=fake

say "Starting the controller (log: $state_dir/controller.log; the fake cloud's state: $state_dir/fake-cloud.db)"
# The fake keeps its balancers, the backend view of each one's last ensure/update and its call
# log in this file; a fresh demo starts with an empty cloud.
cloud_state="$state_dir/fake-cloud.db"
rm -f "$cloud_state"
printf 'stateFile: %s\n' "$cloud_state" >"$state_dir/cloud-config.yaml"
"$bin_dir/multicluster-provider" \
  --cloud-provider=fake --provider-dir "$bin_dir" \
  --cloud-config "$state_dir/cloud-config.yaml" \
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

say "The seed's walkthrough: the IngressClass fake, then mci.yaml and application.yaml (nothing else is written; Karmada does the rest)"
k apply -f examples/ingressclass-fake.yaml
k apply -f examples/mci.yaml
k apply -f examples/application.yaml

say "Waiting for the MultiClusterIngress's load balancer and service locations"
ip=""
locations=""
for _ in $(seq 1 300); do
  ip=$(k get multiclusteringress minimal-ingress -o jsonpath='{.status.loadBalancer.ingress[0].ip}' 2>/dev/null || true)
  locations=$(k get multiclusteringress minimal-ingress -o jsonpath='{.status.serviceLocations[0].clusters}' 2>/dev/null || true)
  [[ -n "$ip" && "$locations" == *member1*member2* ]] && break
  sleep 0.2
done
[[ -n "$ip" ]] || give_up "the MultiClusterIngress got no address"
k get multiclusteringress minimal-ingress -o yaml | sed -n '/^status:/,$p'

say "Waiting for the ServiceExport and its CRD to reach the member clusters"
for member in member1 member2; do
  for _ in $(seq 1 300); do
    m "$member" get serviceexport serve -n default >/dev/null 2>&1 && break
    sleep 0.2
  done
done

say "On the Karmada API server: Karmada's ResourceBindings, and our ServiceExport and policies"
k get resourcebindings,serviceexports,propagationpolicies -n default
k get clusterpropagationpolicies

for member in member1 member2; do
  say "In $member (kubectl --kubeconfig $members/$member.config)"
  m "$member" get crd serviceexports.multicluster.x-k8s.io
  m "$member" get serviceexports,services -n default
done

say "Writing in member1 and member2 the EndpointSlice kube-controller-manager would write for running serve pods (the members have no nodes)"
declare -A address=([member1]=10.10.0.5 [member2]=10.20.0.7)
for member in member1 member2; do
  slice=$("$bin_dir/mcp-testenv" endpoint-slice --kubeconfig "$members/$member.config" \
    --namespace default --service serve --node "$member-node" "${address[$member]}")
  m "$member" get endpointslice "$slice" -n default
done

say "Waiting for Karmada to collect them and for the provider to get them in its backend view"
for _ in $(seq 1 600); do
  [[ $(k get endpointslices -n default -l kubernetes.io/service-name=derived-serve -o name 2>/dev/null | wc -l) -ge 2 ]] && break
  sleep 0.2
done
k get endpointslices -n default -l kubernetes.io/service-name=derived-serve
# One balancer's entry of the fake's state (serde_json's pretty print: four spaces in).
balancer() {
  "$bin_dir/mcp-fake-state" "$cloud_state" |
    awk -v key="    \"$1\": {" 'index($0, key) == 1 {on = 1} on {print} on && /^    }/ {exit}'
}
view=""
for _ in $(seq 1 600); do
  view=$(balancer mci/default/minimal-ingress)
  [[ "$view" == *'"backends"'*"${address[member1]}"* && "$view" == *"${address[member2]}"* ]] && break
  view=""
  sleep 0.2
done
[[ -n "$view" ]] || give_up "the provider never got serve's endpoints in member1 and member2"
say "What the provider got for mci/default/minimal-ingress ($bin_dir/mcp-fake-state $cloud_state)"
printf '%s\n' "$view"

cat <<MSG

The MultiClusterIngress default/minimal-ingress has load balancer address $ip (the fake answers
ensure with 1.2.3.4 and update with 1.2.3.5: in the seed's order the MCI exists before its
Service, whose arrival updates the balancer), and its Service runs in member1 and member2. Karmada's scheduler placed it there (ResourceBinding
default/serve-service); our controllers exported it (ServiceExport and PropagationPolicy
propagate-service-serve) and propagated the ServiceExport CRD to every member
(ClusterPropagationPolicy serviceexportpropagation-policy). Karmada collected the EndpointSlices
written in member1 and member2 (imported-member1-serve-..., imported-member2-serve-...), and the
provider got them in its backend view: serve in member1 (${address[member1]}) and member2
(${address[member2]}).

Look around:
  export KUBECONFIG=$kubeconfig          # the Karmada API server
  alias kubectl=$kubectl
  kubectl get clusters,rb,pp,cpp,mci -A
  kubectl get mci minimal-ingress -o yaml
  kubectl --kubeconfig $members/member1.config get serviceexports -A   # a member directly
  kubectl get --raw /apis/cluster.karmada.io/v1alpha1/clusters/member2/proxy/apis/multicluster.x-k8s.io/v1alpha1/namespaces/default/serviceexports
                                           # a member through Karmada's cluster proxy
  kubectl delete mci minimal-ingress     # the fake deletes its balancer, then the finalizer goes
  $bin_dir/mcp-fake-state $cloud_state    # the fake cloud: balancers, their views, calls
  $bin_dir/mcp-testenv endpoint-slice --kubeconfig $members/member1.config --service serve \\
      --node member1-node ${address[member1]} 10.10.0.6   # scale serve up in member1
  curl -s http://127.0.0.1:$metrics_port/metrics | grep multicluster_provider_
  tail -f $state_dir/controller.log
  $bin_dir/mcp-testenv status            # every process of the environment, with its memory

Stop everything: make demo-down
MSG
