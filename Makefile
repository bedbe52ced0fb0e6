# kuzet: national security-incident monitoring pipeline.
# `make` lists the targets. On a fresh Debian machine, as root, `make run`
# and `make test` install what they need (clickhouse-server, chromium, poppler-utils, prometheus for promtool,
# systemd for systemd-analyze) themselves.

GO       ?= go
BIN      := bin
PKGS     := ./...
FUZZTIME ?= 20s
# Go test timeout; make test stays well under it.
TIMEOUT  ?= 25m

.DEFAULT_GOAL := help
.PHONY: help build run test test-deploy test-short test-race bench loadtest fuzz lint deps clean

help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-11s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

deps: ## Install clickhouse-server, chromium, poppler-utils (pdftotext), prometheus (promtool) and systemd (systemd-analyze) if missing (apt-get, as root).
	@scripts/ensure-deps.sh

build: ## Build kuzet, kuzet-collector, kuzet-ncc and kuzet-api into bin/.
	$(GO) build -o $(BIN)/ ./cmd/...

run: deps build ## Run the whole pipeline here: embedded NATS, local ClickHouse, demo feed.
	$(BIN)/kuzet run

test: deps build ## vet, then every test, with a private ClickHouse started and stopped around them; then the deploy module's tests.
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l cmd internal pipelines deploy)" || { echo "gofmt needed:"; gofmt -l cmd internal pipelines deploy; exit 1; }
	$(BIN)/kuzet clickhouse -- $(GO) test -count=1 -timeout $(TIMEOUT) $(PKGS)
	cd deploy && $(GO) vet ./... && $(GO) test -vet=off -count=1 -timeout 5m ./...

# deploy/ is a module of its own (compose-go, kustomize, the Kubernetes API
# types stay out of kuzet's), so ./... above does not reach it. Its tests
# check the compose stack, the Kubernetes overlays and the systemd units,
# and run bin/'s role binaries on their config files.
test-deploy: build ## The deploy module's tests: compose, kustomize overlays, systemd units (no servers).
	cd deploy && $(GO) vet ./... && $(GO) test -vet=off -count=1 -timeout 5m ./...

test-short: ## Unit tests only: no servers.
	$(GO) test -short -count=1 $(PKGS)

test-race: deps build ## Every test with the race detector.
	$(BIN)/kuzet clickhouse -- $(GO) test -race -count=1 -timeout 40m $(PKGS)

bench: deps build ## Benchmarks, 6 runs each on one core (compare with benchstat); ncc throughput on a private ClickHouse.
	$(BIN)/kuzet clickhouse -- $(GO) test -run='^$$' -bench=. -benchmem -count=6 -cpu=1 -timeout 60m $(PKGS)

# make loadtest: RATE= (records/s or max), DURATION= (Go duration, h/m/s),
# PROFILE=1 (CPU and allocation profiles per role under .work/loadtest/).
RATE     ?= max
DURATION ?= 3m
PROFILE  ?= 0

loadtest: deps build ## The pipeline as processes driven by kuzet loadgen, detection off then on (RATE=max DURATION=3m PROFILE=0); result in .work/loadtest/result.json.
	RATE=$(RATE) DURATION=$(DURATION) PROFILE=$(PROFILE) BIN=$(BIN) scripts/loadtest.sh

fuzz: ## Run every fuzz target for FUZZTIME each.
	@for pkg in $$($(GO) list $(PKGS)); do \
		for f in $$($(GO) test -list='^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$f"; $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

lint: ## gofmt and go vet (kuzet's module and deploy's).
	@test -z "$$(gofmt -l cmd internal pipelines deploy)" || { gofmt -l cmd internal pipelines deploy; exit 1; }
	$(GO) vet $(PKGS)
	cd deploy && $(GO) vet ./...

clean: ## Remove build output and run state.
	rm -rf $(BIN) .work
