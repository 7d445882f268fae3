# Makefile for the multicluster cloud provider. Cargo does the building; these targets are
# shortcuts for people.

.PHONY: help
help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 20

# ---------------------------------------------------------------------------------------------
# Local control plane (testenv): a real etcd + kube-apiserver on loopback with the project's
# Karmada CRDs. See docs/testenv.md.
# ---------------------------------------------------------------------------------------------
MCP_TESTENV := cargo run --quiet -p mcp-testenv --bin mcp-testenv --

.PHONY: testenv-binaries cluster-up cluster-down cluster-status
testenv-binaries: ## Build (first time only) etcd and kube-apiserver; print their directory
	bash hack/testenv/build.sh

cluster-up: testenv-binaries ## Start the local control plane; print the kubeconfig path
	$(MCP_TESTENV) up

cluster-down: ## Stop the local control plane and remove its files (idempotent)
	$(MCP_TESTENV) down

cluster-status: ## Say whether the local control plane is running
	$(MCP_TESTENV) status
# ---------------------------------------------------------------------------------------------
