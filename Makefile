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
	@echo "make bench  - measure sluice against goflow2, nfcapd and pmacct (root, ~20 min)"

# -buildvcs=auto records the VCS revision (sluice version) even where GOFLAGS
# turns it off; where git refuses the checkout (another user's), the build
# goes on without it.
# The binary records where libchdb is (ELF run path): the embedded engine
# loads it when it starts, and finds it there without CHDB_LIB_PATH.
.PHONY: build
build:
	@echo "building $(BIN) (go build -buildvcs=auto ./cmd/sluice)"
	@start=$$SECONDS; lib=$$(deploy/dev/deps.sh chdb); \
	build() { $(GO) build -buildvcs=$$1 -ldflags "-r $${lib%/*}" -o $(BIN) ./cmd/sluice; }; \
	if ! out=$$(build auto 2>&1); then \
		if [[ $$out != *"error obtaining VCS status"* ]]; then echo "$$out" >&2; exit 1; fi; \
		echo "make build: git cannot read this checkout; building without the VCS revision" >&2; \
		build false; \
	fi; \
	echo "built $(BIN) in $$((SECONDS - start))s"

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
	deploy/dev/deps.sh clients

.PHONY: lint
lint:
	@unformatted=$$(gofmt -l .); \
	if [[ -n "$$unformatted" ]]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	cd deploy/check && $(GO) vet ./...

# deploy/dev/test.sh runs the stages (deps, lint, build, race tests,
# allocation tests, fuzz), each with a start line and its duration, and ends
# with which test tiers ran and which did not, and why (the capture corpus,
# kept beside the repository, is the one dependency it cannot install).
.PHONY: test
test:
	FUZZTIME=$(FUZZTIME) GO=$(GO) deploy/dev/test.sh

# The comparison with goflow2, nfcapd and pmacct (BENCHMARKS.md), as root:
# `make bench`; the 10-minute RSS run: `make bench BENCH_ARGS=flat`.
.PHONY: bench
bench:
	deploy/bench/bench.sh $(BENCH_ARGS)
