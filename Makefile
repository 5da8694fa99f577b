# liqstream — the one front door. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Every Go module of the workspace; module-wide targets loop over this list.
MODULES := proto schemas services/lib services/chainsim services/ingest services/aggregator services/liqstream deploy
# Every deployable binary: services/<name>/cmd/<name>.
SERVICES := chainsim ingest aggregator liqstream

VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

# The one pinned protobuf generator: Debian's protoc 3.21 plus this protoc-gen-go.
PROTOC_GEN_GO_VERSION := v1.36.12
TOOLS := $(CURDIR)/.data/tools/bin

# Addresses of the real servers started by scripts/ for tests and the demo.
export LIQSTREAM_TEST_KAFKA_BROKERS ?= 127.0.0.1:19092
export LIQSTREAM_TEST_CLICKHOUSE_ADDR ?= 127.0.0.1:19000
# Debian's prometheus package (scripts/install-deps.sh): the scrape test and promtool checks.
export LIQSTREAM_TEST_PROMETHEUS ?= /usr/bin/prometheus
export LIQSTREAM_TEST_PROMTOOL ?= /usr/bin/promtool
# The broker's SASL_SSL listener and the ClickHouse analyst user (scripts/kafka-start.sh, clickhouse-start.sh).
export LIQSTREAM_TEST_KAFKA_SASL_BROKERS ?= 127.0.0.1:19094
export LIQSTREAM_TEST_KAFKA_SASL_USER ?= liqstream
export LIQSTREAM_TEST_KAFKA_SASL_PASSWORD_FILE ?= $(CURDIR)/.data/kafka/sasl-password
export LIQSTREAM_TEST_KAFKA_CA_FILE ?= $(CURDIR)/.data/kafka/tls/ca.pem
export LIQSTREAM_TEST_CLICKHOUSE_ANALYST_PASSWORD_FILE ?= $(CURDIR)/.data/clickhouse/analyst-password
GOTEST_FLAGS ?= -count=1 -timeout 20m

.PHONY: help
help: ## Show this help.
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: demo
demo: ## Run the whole pipeline over simulated Jan–Feb 2026 and print the cycle table beside the ground truth.
	@bash scripts/install-deps.sh
	@bash scripts/clickhouse-start.sh
	@$(MAKE) --no-print-directory build-liqstream
	@bin/liqstream demo

.PHONY: test
test: servers lint proto-check ## Unit and integration tests against the real ClickHouse and Kafka (started here).
	@set -e; for m in $(MODULES); do echo "== go test $$m"; (cd $$m && go test $(GOTEST_FLAGS) -skip '^TestChaos' ./...); done
	@$(MAKE) --no-print-directory gowork-off bench-smoke chdb-check python-consumer-test readme-check chaos-ci

.PHONY: servers
servers: ## Install (if missing) and start ClickHouse and Kafka on loopback.
	@bash scripts/install-deps.sh
	@bash scripts/clickhouse-start.sh
	@bash scripts/kafka-start.sh

.PHONY: stop
stop: ## Stop the servers started by `make servers`.
	-@bash scripts/kafka-stop.sh
	-@bash scripts/clickhouse-stop.sh

.PHONY: build
build: ## Build every binary into bin/.
	@mkdir -p bin
	@set -e; for s in $(SERVICES); do (cd services/$$s && go build -ldflags "$(LDFLAGS)" -o ../../bin/$$s ./cmd/$$s); done
	@cd services/liqstream && go build -ldflags "$(LDFLAGS)" -o ../../bin/liqstream-alerter ./examples/alerter/cmd/liqstream-alerter
	@echo "built: $(addprefix bin/,$(SERVICES)) bin/liqstream-alerter"

.PHONY: build-liqstream
build-liqstream:
	@mkdir -p bin
	@cd services/liqstream && go build -ldflags "$(LDFLAGS)" -o ../../bin/liqstream ./cmd/liqstream

.PHONY: gowork-off
gowork-off: ## Check that every module builds on its own (GOWORK=off) and is tidy.
	@set -e; for m in $(MODULES); do (cd $$m && GOWORK=off go build ./... && GOWORK=off go vet ./... >/dev/null && \
		{ GOWORK=off go mod tidy -diff >/dev/null || { echo "$$m: go.mod/go.sum not tidy: run (cd $$m && GOWORK=off go mod tidy)"; exit 1; }; }); done
	@echo "every module builds with GOWORK=off and is tidy"

.PHONY: lint
lint: ## gofmt and go vet over every module.
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@set -e; for m in $(MODULES); do (cd $$m && go vet ./...); done; echo "lint ok"

.PHONY: fmt
fmt: ## Format every Go file.
	@gofmt -w $(MODULES)

$(TOOLS)/protoc-gen-go:
	@mkdir -p $(TOOLS)
	@GOBIN=$(TOOLS) go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)

.PHONY: proto
proto: $(TOOLS)/protoc-gen-go ## Regenerate the Go code of the event contract.
	@command -v protoc >/dev/null || { echo "protoc missing: run scripts/install-deps.sh"; exit 1; }
	@PATH=$(TOOLS):$$PATH protoc -I proto --go_out=proto --go_opt=module=github.com/liqstream/liqstream/proto proto/liqstream/v1/*.proto
	@echo "generated proto/liqstreamv1"

.PHONY: proto-check
proto-check: $(TOOLS)/protoc-gen-go ## Fail when the committed generated code is stale.
	@tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	PATH=$(TOOLS):$$PATH protoc -I proto --go_out=$$tmp --go_opt=module=github.com/liqstream/liqstream/proto proto/liqstream/v1/*.proto; \
	if ! diff -r $$tmp/liqstreamv1 proto/liqstreamv1 >/dev/null; then echo "proto/liqstreamv1 is stale: run make proto and commit"; diff -r $$tmp/liqstreamv1 proto/liqstreamv1 | head -20; exit 1; fi; \
	echo "generated proto code is up to date"

.PHONY: python-consumer-test
python-consumer-test: servers ## Python example consumer: pinned venv, generated-code drift check, pytest on the real Kafka.
	@bash scripts/python-consumer-test.sh

.PHONY: readme-check
readme-check: ## Run the README's quickstart blocks in order.
	@bash scripts/readme-quickstart.sh

.PHONY: chaos-ci
chaos-ci: servers ## Aggregator chaos test at CI size (20 SIGKILLs, ClickHouse restarted once); runs alone, it restarts ClickHouse.
	@set -o pipefail; cd services/aggregator && LIQSTREAM_CHAOS_RESTART_CLICKHOUSE=1 go test $(GOTEST_FLAGS) -v -run '^TestChaos' ./chaos/ 2>&1 | { grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|chaos|seed|kill' || true; }

.PHONY: chaos
chaos: servers ## Long chaos run: 100 SIGKILLs over a 150 s load, ClickHouse restarted once.
	@bash scripts/chaos.sh

.PHONY: chaos-ingest
chaos-ingest: servers ## SIGKILL ingest 100 times during backfill and follow; read_committed must see every event exactly once.
	@bash scripts/chaos-ingest.sh

.PHONY: chdb-check
chdb-check: ## Run every migration and query of schemas/ on chdb (in-process current ClickHouse LTS).
	@bash scripts/chdb-check.sh

.PHONY: bench
bench: ## Run the benchmarks; each line prints target, measured value and pass/fail.
	@bash scripts/bench.sh

.PHONY: bench-smoke
bench-smoke: ## A short run of every benchmark harness (CI keeps them working).
	@bash scripts/bench.sh --smoke

.PHONY: clean
clean: ## Remove build outputs (not server data).
	@rm -rf bin
