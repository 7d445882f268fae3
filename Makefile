# Makefile for the multicluster cloud provider. Cargo does the building; these targets are
# shortcuts for people.

# ---------------------------------------------------------------------------------------------
# Build and test
# ---------------------------------------------------------------------------------------------
.PHONY: build test lint fmt bench demo demo-down package-interface
build: ## Debug build of every crate (the controller and libmcp_provider_fake.so)
	cargo build --workspace

lint: ## cargo fmt --check and clippy with warnings as errors
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p mcp-interface --features async,schema --all-targets -- -D warnings

test: testenv-binaries testenv-karmada-binaries build lint package-interface ## Everything CI runs: control plane binaries, build, lint, all tests
	MCP_TESTENV_BIN_DIR="$$(bash hack/testenv/build.sh)" \
	MCP_TESTENV_KARMADA_BIN_DIR="$$(bash hack/testenv/build.sh karmada)" \
	cargo test --workspace
	cargo test -p mcp-interface --features async,schema

package-interface: ## cargo package -p mcp-interface (the published crate), failing on any warning
	out="$$(cargo package -p mcp-interface --allow-dirty 2>&1)"; status=$$?; echo "$$out"; \
		[ $$status -eq 0 ] && ! echo "$$out" | grep -q '^warning'

demo: ## The main job: Karmada v1.16 with two members + controller with the fake provider + the seed's walkthrough
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
# Local control plane (testenv). Light mode: a real etcd + kube-apiserver on loopback with the
# project's Karmada CRDs. Karmada mode (KARMADA=1): Karmada v1.16's own components and member
# clusters member1 and member2. See docs/testenv.md.
# ---------------------------------------------------------------------------------------------
MCP_TESTENV := cargo run --quiet -p mcp-testenv --bin mcp-testenv --

.PHONY: testenv-binaries testenv-karmada-binaries cluster-up cluster-down cluster-status
testenv-binaries: ## Build (first time only) etcd and kube-apiserver; print their directory
	bash hack/testenv/build.sh

testenv-karmada-binaries: ## Build (first time only) Karmada's components and kube-controller-manager
	bash hack/testenv/build.sh karmada

cluster-up: testenv-binaries ## Start the local control plane (KARMADA=1: real Karmada + members); print the kubeconfig path
	$(MCP_TESTENV) up $(if $(filter-out 0 false,$(KARMADA)),--karmada)

cluster-down: ## Stop the local control plane and remove its files (idempotent)
	$(MCP_TESTENV) down

cluster-status: ## Say whether the local control plane is running
	$(MCP_TESTENV) status
# ---------------------------------------------------------------------------------------------

# ---------------------------------------------------------------------------------------------
# Release artifacts, image and deployment (the Go original's targets and variables).
# See docs/operators.md and docs/vendors.md. `make test` also runs `lint-shell` and
# `lint-examples` (through `lint`), `image-oci-archive` and `image-runc-test`: they are added as
# prerequisites at the end of this section, without changing the targets above.
# ---------------------------------------------------------------------------------------------
HOST_ARCH := $(shell bash -c 'source hack/image/lib.sh && image::host_arch')
GOOS ?= linux
GOARCH ?= $(HOST_ARCH)
REGISTRY ?= docker.io/karmada
VERSION ?= latest
OUTPUT_TYPE ?= docker
TARGETS := multicluster-provider-fake
SHELL_SCRIPTS = $(shell find hack -name '*.sh' | sort)
EXAMPLES_TARGET_DIR = $(or $(CARGO_TARGET_DIR),target)/examples

.PHONY: all $(TARGETS) images $(addprefix image-,$(TARGETS)) image-runc-test image-oci-archive
.PHONY: release-tarball release-tarball-test
.PHONY: tools lint-shell lint-examples deploy-provider clean

all: $(TARGETS)

multicluster-provider-fake: ## Release build of the controller + fake provider into _output/ (GOARCH)
	GOOS=$(GOOS) GOARCH=$(GOARCH) bash hack/image/build.sh

image-multicluster-provider-fake: ## Image $(REGISTRY)/multicluster-provider-fake:$(VERSION) (docker/podman/buildah)
	REGISTRY=$(REGISTRY) VERSION=$(VERSION) GOARCH=$(GOARCH) OUTPUT_TYPE=$(OUTPUT_TYPE) \
		bash hack/image/docker.sh multicluster-provider-fake

images: $(addprefix image-,$(TARGETS))

image-oci-archive: tools multicluster-provider-fake ## Daemonless OCI archive of the runtime stage (umoci) in _output/
	REGISTRY=$(REGISTRY) VERSION=$(VERSION) GOARCH=$(GOARCH) bash hack/image/oci-archive.sh

image-runc-test: image-oci-archive testenv-binaries ## The OCI archive run by runc as a kubelet would: our Deployment, then the Go one with only the image changed
	MCP_TESTENV_BIN_DIR="$$(bash hack/testenv/build.sh)" VERSION=$(VERSION) bash hack/image/runc-test.sh

release-tarball: testenv-binaries ## _output/multicluster-provider-v<version>-linux-<arch>.tar.gz: controller, mcp-try-provider, fake, etcd + kube-apiserver
	bash hack/release-tarball.sh

release-tarball-test: testenv-binaries ## The tarball used outside the repository: inspect, verify and mcp-try-provider with examples/provider
	bash hack/release-tarball-test.sh

deploy-provider: ## hack/deploy-provider.sh (kind host cluster + Karmada; see docs/operators.md)
	bash hack/deploy-provider.sh

tools: ## apt-get install what the image and script checks need, if missing
	bash hack/image/install-tools.sh

lint-shell: tools ## shellcheck every script under hack/
	shellcheck -x $(SHELL_SCRIPTS)

STANDALONE_CRATES = examples/provider controller/tests/fixtures/broken-provider

lint-examples: ## fmt and clippy of examples/provider and the broken verify fixture (workspaces of their own, built into target/examples)
	for crate in $(STANDALONE_CRATES); do \
		cargo fmt --manifest-path $$crate/Cargo.toml -- --check && \
		cargo clippy --manifest-path $$crate/Cargo.toml --target-dir $(EXAMPLES_TARGET_DIR) -- -D warnings || exit 1; \
	done

clean: ## Remove _output/ (release artifacts); cargo's target/ is left alone
	rm -rf _output

# Added to the targets of the first section.
lint: lint-shell lint-examples
test: image-runc-test release-tarball-test
# ---------------------------------------------------------------------------------------------
