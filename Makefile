# sluice's two entry points for a fresh machine (see README.md):
#   make run    install what is missing, build, run `sluice run` fed by `sluice demo`
#   make test   install what is missing, then every check CI runs
# Everything fetched goes to $(SLUICE_CACHE); nothing is installed by hand.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

SLUICE_CACHE ?= $(HOME)/.cache/sluice
export SLUICE_CACHE
GO ?= go
BIN := bin/sluice
# Fuzz each decoder this long in `make test`.
FUZZTIME ?= 10s

.PHONY: help
help:
	@echo "make run    - build and run sluice with the demo exporter (Ctrl-C stops)"
	@echo "make test   - every test, vet and format check, as CI runs them"
	@echo "make build  - build $(BIN)"
	@echo "make bench  - measure sluice against goflow2, nfcapd and pmacct (root, ~5 min)"

# The binary records where libchdb is (ELF run path): chdb-go loads it when
# the program starts, so every command, even `sluice sql`, finds it without
# CHDB_LIB_PATH.
.PHONY: build
build:
	lib=$$(deploy/dev/deps.sh chdb); $(GO) build -ldflags "-r $${lib%/*}" -o $(BIN) ./cmd/sluice

.PHONY: deps-run
deps-run:
	deploy/dev/deps.sh go
	deploy/dev/deps.sh chdb >/dev/null

.PHONY: run
run: deps-run build
	lib=$$(deploy/dev/deps.sh chdb); CHDB_LIB_PATH=$$lib deploy/dev/demo.sh $(BIN)

.PHONY: deps-test
deps-test:
	deploy/dev/deps.sh go
	deploy/dev/deps.sh chdb >/dev/null
	deploy/dev/deps.sh debian
	deploy/dev/deps.sh kafka

.PHONY: lint
lint:
	@unformatted=$$(gofmt -l .); \
	if [[ -n "$$unformatted" ]]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

# The real Kafka broker runs for the length of the test run only. Every
# dependency is installed above, so a test that finds one missing fails
# (SLUICE_REQUIRE_DEPS) rather than skips, here as in CI. The collector's
# no-allocation tests are built without -race only (sync.Pool drops pooled
# memory under it), so they run in a second pass without it.
.PHONY: test
test: deps-test lint build
	lib=$$(deploy/dev/deps.sh chdb); export CHDB_LIB_PATH=$$lib; \
	brokers=$$(deploy/dev/kafka.sh start); export SLUICE_KAFKA_BROKERS=$$brokers; \
	trap 'deploy/dev/kafka.sh stop' EXIT; \
	export SLUICE_REQUIRE_DEPS=1; \
	$(GO) test -race -count=1 -timeout 30m ./...; \
	$(GO) test -count=1 -run 'Alloc' ./collector/...; \
	for target in collector/netflow:FuzzDecode collector/sflow:FuzzDecode; do \
		pkg=$${target%%:*}; fn=$${target##*:}; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) ./$$pkg; \
	done

# The comparison with goflow2, nfcapd and pmacct (BENCHMARKS.md), as root:
# `make bench`; the 10-minute RSS run: `make bench BENCH_ARGS=flat`.
.PHONY: bench
bench:
	deploy/bench/bench.sh $(BENCH_ARGS)
