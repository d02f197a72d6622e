# Kefu — a thin Makefile: every target is one or two commands you could type.
SHELL   := /bin/bash
GO      ?= go
GOROOT  := $(shell $(GO) env GOROOT)
# Computed once: every binary and file name of one make run carries the same.
ifeq ($(origin VERSION),undefined)
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
endif
BIN     := bin/kefu
LDFLAGS := -s -w -X main.version=$(VERSION)
# make run: loopback by default (a demo, not a deployment); the environment
# overrides either, like every other KEFU_* setting the relay reads.
KEFU_ADDR ?= 127.0.0.1:8020
KEFU_DATA ?= ./data
# make release: every platform a shop runs the relay on.
RELEASE_PLATFORMS ?= linux/amd64 linux/arm64 linux/arm/v7 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
RELEASE := build/release
SHA256  := $(shell command -v sha256sum 2>/dev/null || echo shasum -a 256)
# make docker: the host's platform; several (podman) make a multi-arch manifest.
IMAGE_PLATFORMS ?= linux/$(shell $(GO) env GOARCH)
WASM    := public/wasm/kefu.wasm
WASM_SRC := $(shell find router wasm -name "*.go" -not -name "*_test.go" 2>/dev/null) go.mod go.sum
ENGINE  := $(shell command -v podman 2>/dev/null || command -v docker 2>/dev/null)
ifneq ($(and $(findstring podman,$(ENGINE)),$(shell command -v runc 2>/dev/null)),)
ENGINE  += --runtime runc
endif

.PHONY: help run cluster build wasm test lint lint-js test-go test-wasm test-browser test-edge bench-edge soak-edge edge docker docker-multiarch release clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

run: build ## the relay on http://localhost:8020 (loopback) with the demo page, data in ./data; KEFU_ADDR, KEFU_DATA override
	./$(BIN) serve --addr $(KEFU_ADDR) --data $(KEFU_DATA) --allow-private-destinations=true

cluster: build ## three local nodes (NATS JetStream embedded) behind HAProxy: http://localhost:8020 → :8021-8023, data in ./data/cluster (docs/cluster.md)
	./docs/deploy/cluster/local.sh

build: wasm ## the static kefu binary in bin/, version stamped
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./relay/cmd/kefu

wasm: $(WASM) public/wasm/wasm_exec.js ## the widget's WebAssembly module (+ brotli) and Go's JS glue

$(WASM): $(WASM_SRC)
	GOOS=js GOARCH=wasm $(GO) build -tags kefu_widget -trimpath -ldflags '-s -w' -o $@ ./wasm
	@if command -v brotli >/dev/null; then brotli -f -q 11 -o $@.br $@; else echo "brotli not installed: serving gzip only"; fi

public/wasm/wasm_exec.js: $(GOROOT)/lib/wasm/wasm_exec.js
	cp $< $@

test: lint wasm test-go test-wasm test-browser test-edge ## everything CI runs

lint: lint-js ## go vet (linux and js/wasm), gofmt, and ESLint over widget/, public/ and e2e/
	$(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet ./router/... ./wasm/... ./relay/cmd/kefu-edge ./relay/internal/edge ./relay/internal/store/d1
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

lint-js: ## ESLint (pinned in package.json) over widget/, public/ and e2e/ (skipped loudly without Node, required in CI)
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
		if [ "$$CI" = true ]; then echo "lint-js: Node and npm are required in CI"; exit 1; fi; \
		printf '%s\n' "########################################################################" \
			"# SKIPPED lint-js: Node and npm are not installed (ESLint needs them)" \
			"########################################################################"; exit 0; fi; \
	$(MAKE) -s --no-print-directory node_modules/.package-lock.json && ./node_modules/.bin/eslint widget public e2e eslint.config.js

# npm ci only when the lockfile changed since the last install.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --silent

# go test starts the test binaries in the order the packages are named, -p
# (the core count) at a time: the longest first, so none of them starts
# last and holds the phase up alone (docs/decisions.md, "Test suite time").
GO_TEST_FIRST := ./relay/internal/store/jetstream ./relay/cmd/kefu/clustertest ./relay/cmd/kefu ./relay/internal/bot ./router ./relay/internal/agent

test-go: wasm ## Go tests (fuzz seed corpora included), the crash test, the container image
	$(GO) test -count=1 $(GO_TEST_FIRST) ./...

test-wasm: ## router, wasm and D1 store tests compiled to js/wasm, run under Node
	GOOS=js GOARCH=wasm $(GO) test -count=1 -exec=$(GOROOT)/lib/wasm/go_js_wasm_exec ./router/... ./wasm/... ./relay/internal/store/d1

# How many browser files run at a time, each with its own relay, Chromium
# and ports.
E2E_JOBS ?= 2

test-browser: build ## widget, admin and console in headless Chromium (skipped loudly without Chromium, required in CI)
	@if [ -f e2e/package.json ]; then $(GO) build -o bin/fakeopenai ./relay/cmd/fakeopenai && cd e2e && npm ci --no-audit --no-fund --silent && \
		KEFU_BIN=../$(BIN) FAKEOPENAI=../bin/fakeopenai node --test --test-concurrency=$(E2E_JOBS); fi

edge: wasm ## the Cloudflare Workers build in edge/build (Go wasm + syumai/workers glue + the classifier as static assets), with its sizes
	./edge/build.sh

test-edge: wasm ## the edge build under wrangler dev (workerd, local D1, offline) against the fake upstream (skipped loudly without Node, required in CI)
	EDGE_BROTLI=0 EDGE_TEST_HOOKS=1 ./edge/build.sh
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
		if [ "$$CI" = true ]; then echo "test-edge: Node and npm are required in CI"; exit 1; fi; \
		printf '%s\n' "########################################################################" \
			"# SKIPPED test-edge: Node and npm are not installed (wrangler dev needs them)" \
			"########################################################################"; exit 0; fi; \
	$(GO) build -o bin/fakeopenai ./relay/cmd/fakeopenai && \
	cd edge && npm ci --no-audit --no-fund --silent && FAKEOPENAI=../bin/fakeopenai node --test test/edge.test.js

bench-edge: edge ## CPU per request of the edge build under wrangler dev, as ratios against Go and JS hello-worlds (a few minutes; docs/edge.md)
	$(GO) build -o bin/fakeopenai ./relay/cmd/fakeopenai && \
	cd edge && npm ci --no-audit --no-fund --silent && FAKEOPENAI=../bin/fakeopenai node bench/cpu.js

soak-edge: wasm ## 10 000 requests of every kind against Go instances kept across requests, checked for state leaking between them (a few minutes; docs/edge.md)
	EDGE_BROTLI=0 EDGE_TEST_HOOKS=1 ./edge/build.sh
	$(GO) build -o bin/fakeopenai ./relay/cmd/fakeopenai && \
	cd edge && npm ci --no-audit --no-fund --silent && FAKEOPENAI=../bin/fakeopenai node test/soak.js

# build-for PREFIX PLATFORM...: the static relay for each platform
# (os/arch[/armversion]) as PREFIX-os-arch[vN][.exe].
BUILD_FOR = build_for() { pre=$$1; shift; for p in "$$@"; do \
	os=$${p%%/*}; rest=$${p\#*/}; arch=$${rest%%/*}; arm=; [ "$$rest" != "$$arch" ] && arm=$${rest\#*/v}; \
	out=$$pre-$$os-$$arch$${arm:+v$$arm}; [ $$os = windows ] && out=$$out.exe; echo "  $$out"; \
	CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch GOARM=$$arm $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $$out ./relay/cmd/kefu || return 1; \
	done; }; build_for

docker: wasm ## the FROM scratch image kefu:VERSION (podman or docker); IMAGE_PLATFORMS="linux/amd64 linux/arm64" makes a multi-arch manifest
	@test -n "$(ENGINE)" || { echo "neither podman nor docker is installed"; exit 1; }
	rm -rf build/image && mkdir -p build/image/data
	@$(BUILD_FOR) build/image/kefu $(IMAGE_PLATFORMS)
ifeq ($(words $(IMAGE_PLATFORMS)),1)
	$(ENGINE) build $(IMAGE_FORMAT) $(IMAGE_ARGS) -f Containerfile -t kefu:$(VERSION) -t kefu:latest build/image
else
	@case "$(ENGINE)" in *podman*) ;; *) echo "a multi-arch image needs podman (docker: docker buildx build --platform ... build/image)"; exit 1;; esac
	-$(ENGINE) manifest rm kefu:$(VERSION) >/dev/null 2>&1
	$(ENGINE) build $(IMAGE_FORMAT) $(IMAGE_ARGS) --platform $(subst $(eval) ,$(comma),$(IMAGE_PLATFORMS)) --manifest kefu:$(VERSION) -f Containerfile build/image
	$(ENGINE) manifest inspect kefu:$(VERSION) | grep -E '"(architecture|variant)"'
endif

docker-multiarch: ## the image for linux/amd64 and linux/arm64 as one podman manifest, kefu:VERSION
	$(MAKE) docker IMAGE_PLATFORMS="linux/amd64 linux/arm64"

release: wasm ## static binaries for Linux (amd64, arm64, armv7), macOS and Windows, with SHA256SUMS, in build/release/
	rm -rf $(RELEASE) && mkdir -p $(RELEASE)
	@$(BUILD_FOR) $(RELEASE)/kefu-$(VERSION) $(RELEASE_PLATFORMS)
	cd $(RELEASE) && $(SHA256) kefu-* > SHA256SUMS
	@ls -l $(RELEASE)

clean: ## remove build output
	rm -rf bin build edge/build public/wasm/kefu.wasm public/wasm/kefu.wasm.br public/wasm/wasm_exec.js

comma := ,
# podman keeps HEALTHCHECK only in the docker image format, and without
# --layers=false keeps an image per instruction; the labels say which
# build this is.
IMAGE_FORMAT := $(if $(findstring podman,$(ENGINE)),--format docker --layers=false)
IMAGE_ARGS   := --build-arg VERSION=$(VERSION) --build-arg REVISION=$(shell git rev-parse HEAD 2>/dev/null) \
	--build-arg CREATED=$(shell date -u +%Y-%m-%dT%H:%M:%SZ)

.PHONY: bench bench-quick
BENCH_BINS := ./bench/cmd/kefubench ./bench/cmd/loadgen ./bench/cmd/bare ./bench/cmd/aitrace ./relay/cmd/fakeopenai

bench: build ## load benchmarks of bin/kefu against a bare baseline (≤ 12 min): writes docs/benchmarks.md and bench/results/
	$(GO) build -o bin/ $(BENCH_BINS)
	cd bench/widget && npm ci --no-audit --no-fund --silent
	./bin/kefubench --kefu $(BIN)

bench-quick: build ## the same benchmarks, small (≤ 60 s), for a check before a commit: writes bench/out/quick/
	$(GO) build -o bin/ $(BENCH_BINS)
	cd bench/widget && npm ci --no-audit --no-fund --silent
	./bin/kefubench --quick --kefu $(BIN) --out bench/out/quick --doc bench/out/quick/benchmarks.md
