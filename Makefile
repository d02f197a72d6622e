# Kefu — a thin Makefile: every target is one or two commands you could type.
SHELL   := /bin/bash
GO      ?= go
GOROOT  := $(shell $(GO) env GOROOT)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BIN     := bin/kefu
WASM    := public/wasm/kefu.wasm
WASM_SRC := $(shell find router wasm -name '*.go' -not -name '*_test.go' 2>/dev/null) go.mod go.sum
ENGINE  := $(shell command -v podman 2>/dev/null || command -v docker 2>/dev/null)
ifneq ($(and $(findstring podman,$(ENGINE)),$(shell command -v runc 2>/dev/null)),)
ENGINE  += --runtime runc
endif

.PHONY: help run build wasm test lint test-go test-wasm test-browser test-edge edge docker clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

run: build ## run the relay on :8020 with the demo page, data in ./data
	./$(BIN) serve --addr :8020 --data ./data --allow-private-destinations=true

build: wasm ## the static kefu binary in bin/, version stamped
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w -X main.version=$(VERSION)' -o $(BIN) ./relay/cmd/kefu

wasm: $(WASM) public/wasm/wasm_exec.js ## the widget's WebAssembly module (+ brotli) and Go's JS glue

$(WASM): $(WASM_SRC)
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags '-s -w' -o $@ ./wasm
	@if command -v brotli >/dev/null; then brotli -f -q 11 -o $@.br $@; else echo "brotli not installed: serving gzip only"; fi

public/wasm/wasm_exec.js: $(GOROOT)/lib/wasm/wasm_exec.js
	cp $< $@

test: lint wasm test-go test-wasm test-browser test-edge ## everything CI runs

lint: ## go vet (linux and js/wasm) and gofmt
	$(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet ./router/... ./wasm/... ./relay/cmd/kefu-edge ./relay/internal/edge ./relay/internal/store/d1
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

test-go: wasm ## Go tests (fuzz seed corpora included), the crash test, the container image
	$(GO) test -count=1 ./...

test-wasm: ## router and wasm tests compiled to js/wasm, run under Node
	GOOS=js GOARCH=wasm $(GO) test -count=1 -exec=$(GOROOT)/lib/wasm/go_js_wasm_exec ./router/... ./wasm/...

test-browser: build ## widget, admin and console in headless Chromium (skipped loudly without Chromium, required in CI)
	@if [ -f e2e/package.json ]; then cd e2e && npm ci --no-audit --no-fund --silent && KEFU_BIN=../$(BIN) node --test; fi

edge: wasm ## the Cloudflare Workers build in edge/build (Go wasm + syumai/workers glue + the classifier as static assets), with its sizes
	./edge/build.sh

test-edge: edge ## the edge build under wrangler dev (workerd, local D1, offline) against the fake upstream (skipped loudly without Node, required in CI)
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
		if [ "$$CI" = true ]; then echo "test-edge: Node and npm are required in CI"; exit 1; fi; \
		printf '%s\n' "########################################################################" \
			"# SKIPPED test-edge: Node and npm are not installed (wrangler dev needs them)" \
			"########################################################################"; exit 0; fi; \
	$(GO) build -o bin/fakeopenai ./relay/cmd/fakeopenai && \
	cd edge && npm ci --no-audit --no-fund --silent && FAKEOPENAI=../bin/fakeopenai node --test test/edge.test.js

docker: wasm ## the FROM scratch container image kefu:VERSION (podman or docker)
	@test -n "$(ENGINE)" || { echo "neither podman nor docker is installed"; exit 1; }
	rm -rf build/image && mkdir -p build/image/data
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w -X main.version=$(VERSION)' -o build/image/kefu ./relay/cmd/kefu
	$(ENGINE) build -f Containerfile -t kefu:$(VERSION) -t kefu:latest build/image

clean: ## remove build output
	rm -rf bin build edge/build public/wasm/kefu.wasm public/wasm/kefu.wasm.br public/wasm/wasm_exec.js

.PHONY: bench bench-quick
BENCH_BINS := ./bench/cmd/kefubench ./bench/cmd/loadgen ./bench/cmd/bare ./relay/cmd/fakeopenai

bench: build ## load benchmarks of bin/kefu against a bare baseline (≤ 10 min): writes docs/benchmarks.md and bench/results/
	$(GO) build -o bin/ $(BENCH_BINS)
	cd bench/widget && npm ci --no-audit --no-fund --silent
	./bin/kefubench --kefu $(BIN)

bench-quick: build ## the same benchmarks, small (≤ 60 s), for a check before a commit: writes bench/out/quick/
	$(GO) build -o bin/ $(BENCH_BINS)
	cd bench/widget && npm ci --no-audit --no-fund --silent
	./bin/kefubench --quick --kefu $(BIN) --out bench/out/quick --doc bench/out/quick/benchmarks.md
