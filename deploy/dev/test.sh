#!/usr/bin/env bash
# test.sh is `make test`: it installs what is missing, then runs every check
# CI runs, one stage after another, each announced when it starts and timed
# when it ends:
#
#   deps               Go modules, libchdb, Debian packages, Kafka jars, and the
#                      ClickHouse clients the tests connect to sluice (a Python
#                      virtualenv, the JDBC driver, clickhouse-go v2.47's
#                      modules: deploy/dev/deps.sh clients) (make deps-test)
#   lint               gofmt and go vet (make lint)
#   build              bin/sluice (make build)
#   race tests         go test -race ./..., against a real Kafka broker it starts
#   allocation tests   the no-allocation tests, without -race (sync.Pool drops
#                      pooled memory under it)
#   fuzz               each decoder's FuzzDecode for FUZZTIME
#
# It ends with a summary of the tiers (unit, race, allocation, fuzz, real
# components, corpus): which ran, which did not, and why. Every dependency
# but one is installed by the deps stage, so a test that finds one missing
# fails (SLUICE_REQUIRE_DEPS=1). The exception is the capture corpus,
# third-party data kept beside the repository, never in it: without it the
# corpus tests are skipped outside CI, and the summary says how to run them.
# What the corpus tests did comes from the tests themselves (internal/testenv
# appends it to $SLUICE_TIER_REPORT), not from looking for the directory.
#
# Environment:
#   SLUICE_CORPUS  the capture corpus (default ../shared/corpus beside the
#                  repository); a relative path is taken from where test.sh runs
#   CI=true        a missing corpus fails its tests, and a tier not run fails the run
#   FUZZTIME       how long each fuzz target runs (default 10s)
#   SLUICE_CACHE   what deps fetches (default ~/.cache/sluice)
#   GO, MAKE       the go and make commands
set -euo pipefail

if [[ -n ${SLUICE_CORPUS:-} && $SLUICE_CORPUS != /* ]]; then
	SLUICE_CORPUS=$PWD/$SLUICE_CORPUS
fi
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
readonly repo=$PWD
readonly go=${GO:-go}
readonly make=${MAKE:-make}
readonly fuzztime=${FUZZTIME:-10s}
readonly fuzz_targets=(collector/netflow:FuzzDecode collector/sflow:FuzzDecode)
# A stage says it is still running this often, so the run is never silent
# for long (go test prints a package's line only once the packages before it
# in the list are done, and cmd/sluice takes minutes).
readonly heartbeat_s=${SLUICE_TEST_HEARTBEAT:-30}
export SLUICE_REQUIRE_DEPS=1

work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
touch "$work"/{race,alloc,fuzz}.tiers

say() { echo "test.sh: $*"; }

duration() {
	local s=$1
	if ((s >= 60)); then
		printf '%dm%02ds' $((s / 60)) $((s % 60))
	else
		printf '%ds' "$s"
	fi
}

# go_test_lines counts the package lines go test printed in a log: ok, FAIL
# and "no test files".
go_test_lines() {
	local n
	n=$(grep -cE '^(ok|FAIL|\?)[[:space:]]+[^[:space:]]' "$1" 2>/dev/null) || true
	echo "${n:-0}"
}

# running_tests names the test binaries running under this script (go test
# names each after its package: sluice.test for cmd/sluice).
running_tests() {
	ps -eo pid=,ppid=,args= | awk -v root=$$ '
	{ parent[$1] = $2; name = $3; sub(/.*\//, "", name); binary[$1] = name }
	END {
		for (p in binary) {
			if (binary[p] !~ /\.test$/) continue
			for (q = parent[p]; q > 1; q = parent[q])
				if (q == root) { list = list (list == "" ? "" : ", ") binary[p]; break }
		}
		print list
	}'
}

# heartbeat TITLE [LOG] prints a line every heartbeat_s seconds until
# killed; with LOG, go test's output, it counts the packages reported and
# names the test binaries running.
heartbeat() {
	local title=$1 log=${2:-} start=$SECONDS sleeper= detail running
	trap 'kill $sleeper 2>/dev/null; exit 0' TERM
	while :; do
		sleep "$heartbeat_s" &
		sleeper=$!
		wait "$sleeper"
		detail=
		if [[ -n $log ]]; then
			detail=", $(go_test_lines "$log") of $packages packages reported"
			running=$(running_tests 2>/dev/null) || running=
			[[ -z $running ]] || detail+="; running $running"
		fi
		say "$title: still running ($(duration $((SECONDS - start)))$detail)"
	done
}

declare -A result took
stages=()

# stage KEY TITLE WHAT COMMAND... runs COMMAND in a subshell, between a
# line saying it starts (TITLE: WHAT) and a line with its outcome and
# duration, and records both. Callers run stage in a `||` list, where bash
# ignores set -e, so each stage function checks its own steps.
stage() {
	local key=$1 title=$2 what=$3 start=$SECONDS rc hb log=
	shift 3
	stages+=("$key")
	say "==> $title: $what"
	[[ $key == race ]] && log=$work/race.log
	heartbeat "$title" "$log" &
	hb=$!
	set +e
	(
		set -e
		"$@"
	)
	rc=$?
	set -e
	kill "$hb" 2>/dev/null || true
	wait "$hb" 2>/dev/null || true
	took[$key]=$(duration $((SECONDS - start)))
	if ((rc == 0)); then
		result[$key]=ok
		say "<== $title: ok (${took[$key]})"
	else
		result[$key]=failed
		say "<== $title: FAILED, exit $rc (${took[$key]})"
	fi
	return "$rc"
}

# go_test KEY ARGS... runs go test with the tier report of stage KEY, its
# output shown line by line as go test prints it and kept in KEY.log.
go_test() {
	local key=$1
	shift
	SLUICE_TIER_REPORT="$work/$key.tiers" "$go" test "$@" 2>&1 | tee -a "$work/$key.log"
}

lint() { "$make" --no-print-directory lint; }
build() { "$make" --no-print-directory build; }
# The real Kafka broker runs for the length of the race tests only.
race_tests() {
	local brokers
	say "starting the Kafka broker the tests use"
	brokers=$(deploy/dev/kafka.sh start) || return
	trap 'deploy/dev/kafka.sh stop' EXIT
	local rc=0
	SLUICE_KAFKA_BROKERS=$brokers go_test race -race -count=1 -timeout 30m ./... || rc=1
	# deploy/check is a module of its own (the chart, compose, Dockerfile
	# and systemd checks, with Helm's and Compose's libraries). Both run,
	# and a failure of either fails the stage.
	(cd deploy/check && go_test race -race -count=1 -timeout 10m ./...) || rc=1
	return "$rc"
}
# Tests that skip under -race (allocation counts, the UDP template flood)
# run here, without it, so CI runs every one of them.
alloc_tests() { go_test alloc -count=1 -run 'Alloc|TestTemplateFloodThroughUDP' ./collector/... ./pipeline/siem/...; }
fuzz() {
	local target pkg fn rc=0
	for target in "${fuzz_targets[@]}"; do
		pkg=${target%%:*}
		fn=${target##*:}
		go_test fuzz -run '^$' -fuzz "^$fn\$" -fuzztime "$fuzztime" "./$pkg" || rc=1
	done
	return "$rc"
}

# tiers prints the summary: one line per tier, from the stages' outcomes,
# their go test output, and the corpus lines the tests reported. It lists
# the tiers that did not run in $work/uncovered.
tiers() {
	local beside
	beside=$(cd "$repo/.." && pwd)/shared/corpus
	count() { grep -cE "$1" "$work/$2.log" 2>/dev/null || true; }
	say "tiers:"
	awk -F'\t' -v race="${result[race]:-}" -v alloc="${result[alloc]:-}" -v fuzz="${result[fuzz]:-}" \
		-v ok="$(count '^ok[[:space:]]' race)" -v failed="$(count '^FAIL[[:space:]]+[^[:space:]]' race)" \
		-v notests="$(count '^[?][[:space:]]' race)" -v alloc_ok="$(count '^ok[[:space:]].*[0-9]s$' alloc)" \
		-v fuzzing="${fuzz_targets[*]}, $fuzztime each" -v beside="$beside" -v corpus_env="${SLUICE_CORPUS:-}" \
		-v uncovered="$work/uncovered" '
	function tier(name, status, why) {
		printf "  %-16s %-8s %s\n", name, status, why
		if (status != "ran") print name >uncovered
	}
	# A stage that passed ran its tiers; one that failed or never started did not.
	function staged(name, stage, what) {
		if (stage == "ok") tier(name, "ran", what)
		else if (stage == "failed") tier(name, "FAILED", what " (see above)")
		else tier(name, "NOT RUN", "an earlier stage failed")
	}
	$1 == "corpus" {
		# Tests, not subtests: a test whose subtests each ask counts once.
		sub(/\/.*/, "", $4)
		if (!(($2, $3, $4) in test)) { test[$2, $3, $4]; tests[$2]++ }
		if (!(($2, $3) in pkg)) { pkg[$2, $3]; pkgs[$2]++ }
		detail[$2] = $5
		if ($2 == "not run" && $4 ~ /^Fuzz/) unseeded = 1
		if ($2 == "not run" && FILENAME ~ /alloc[.]tiers$/ && !(($3, $4) in alloc_test)) { alloc_test[$3, $4]; alloc_skipped++ }
	}
	$1 == "component" && $2 == "missing" { missing = missing (missing == "" ? "" : "; ") $5 }
	# The ClickHouse clients the tests ran (internal/testenv.Ran), each once.
	$1 == "component" && $2 == "ran" && !($5 in ran) { ran[$5]; clients = clients (clients == "" ? "" : ", ") $5 }
	END {
		staged("unit", race, sprintf("go test ./...: %d packages ok, %d failed, %d without tests", ok, failed, notests))
		staged("race", race, "the same run, built with -race")
		staged("allocation", alloc, sprintf("go test -run Alloc|TemplateFloodThroughUDP ./collector/... ./pipeline/siem/... without -race: %d packages ok", alloc_ok) \
			(alloc_skipped ? sprintf(", %d tests skipped (no corpus)", alloc_skipped) : ""))
		staged("fuzz", fuzz, fuzzing (unseeded ? ", from the built-in seeds only (no corpus)" : ", seeded from the corpus"))
		if (missing != "") tier("real components", "FAILED", "missing: " missing)
		else staged("real components", race, "Kafka broker, libchdb, tshark, softflowd, pmacct, snmpd" \
			(clients != "" ? "; ClickHouse clients: " clients : "; no ClickHouse client ran") " (a missing one fails its tests)")
		if (tests["failed"]) tier("corpus", "FAILED", detail["failed"])
		else if (tests["ran"] && tests["not run"]) tier("corpus", "partly", sprintf("%d tests on %s; %d without: %s", tests["ran"], detail["ran"], tests["not run"], detail["not run"]))
		else if (tests["ran"]) tier("corpus", "ran", sprintf("%d tests in %d packages on %s", tests["ran"], pkgs["ran"], detail["ran"]))
		else if (tests["not run"]) tier("corpus", "NOT RUN", sprintf("%s: %d tests in %d packages went without it", detail["not run"], tests["not run"], pkgs["not run"]))
		else tier("corpus", "NOT RUN", race == "ok" ? "no test asked for the corpus" : "the race tests did not run to the end")
		if (tests["ran"] && !tests["not run"] && !tests["failed"]) exit
		if (corpus_env != "") printf "  %-16s %-8s to run it: point SLUICE_CORPUS (now %s) at the capture corpus\n", "", "", corpus_env
		else printf "  %-16s %-8s to run it: set SLUICE_CORPUS=DIR, or put the corpus at %s\n", "", "", beside
	}' "$work/race.tiers" "$work/alloc.tiers" "$work/fuzz.tiers"
}

# finish prints the summary and exits: 0 when every stage passed (and, in
# CI, every tier ran).
finish() {
	local total failed=() key
	total=$(duration $((SECONDS - run_start)))
	for key in "${stages[@]}"; do
		[[ ${result[$key]} == ok ]] || failed+=("$key")
	done
	say "stages: $(for key in "${stages[@]}"; do printf '%s %s (%s), ' "$key" "${result[$key]}" "${took[$key]}"; done | sed 's/, $//')"
	tiers
	if ((${#failed[@]})); then
		say "FAIL in $total: ${failed[*]} failed"
		exit 1
	fi
	if [[ -s $work/uncovered ]]; then
		if [[ ${CI:-} == true ]]; then
			say "FAIL in $total: in CI every tier must run; not run: $(paste -sd' ' "$work/uncovered")"
			exit 1
		fi
		say "PASS in $total, without the $(paste -sd' ' "$work/uncovered") tier (see above for how to run it)"
		exit 0
	fi
	say "PASS in $total: every tier ran"
}

run_start=$SECONDS
stage deps deps "Go modules, libchdb, Debian packages, Kafka jars, ClickHouse clients (make deps-test)" \
	"$make" --no-print-directory deps-test || finish
stage lint lint "gofmt, go vet ./..." lint || true
stage build build "bin/sluice (make build)" build || finish
CHDB_LIB_PATH=$(deploy/dev/deps.sh chdb)
export CHDB_LIB_PATH
packages=$("$go" list ./... | wc -l)
stage race "race tests" "go test -race ./... ($packages packages, with a Kafka broker; go test prints a package's line once those before it in the list are done)" \
	race_tests || true
stage alloc "allocation tests" "go test -run Alloc|TemplateFloodThroughUDP ./collector/... ./pipeline/siem/... without -race" alloc_tests || true
stage fuzz fuzz "${fuzz_targets[*]}, $fuzztime each" fuzz || true
finish
