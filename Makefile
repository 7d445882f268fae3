# Makefile for the multicluster cloud provider. Cargo does the building; these targets are
# shortcuts for people.

# ---------------------------------------------------------------------------------------------
# Build and test
# ---------------------------------------------------------------------------------------------
.PHONY: build test lint fmt bench demo demo-down
build: ## Debug build of every crate (the controller and libmcp_provider_fake.so)
	cargo build --workspace

lint: ## cargo fmt --check and clippy with warnings as errors
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

test: testenv-binaries build lint ## Everything CI runs: control plane binaries, build, lint, all tests
	MCP_TESTENV_BIN_DIR="$$(bash hack/testenv/build.sh)" cargo test --workspace

demo: ## The main job: local control plane + controller with the fake provider + the examples
	bash hack/demo.sh

demo-down: ## Stop what `make demo` started
	bash hack/demo.sh down

fmt: ## Format the code
	cargo fmt --all

bench: ## Boundary micro-benchmark (cargo bench)
	cargo bench -p mcp-loader --bench boundary

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
