#!/usr/bin/env bash
# bench.sh measures sluice end to end against goflow2, nfcapd and pmacct on this
# machine, with loss accounting (see BENCHMARKS.md). It installs what is
# missing, builds sluice, sets the socket buffer limits for the run, starts a
# Kafka broker for the split deployment, runs deploy/bench (a Go program) and
# puts everything back as it was.
#
#   deploy/bench/bench.sh [BENCH FLAGS]   the comparison table (about 20 minutes:
#                                         15-s steps, 10 s to store)
#   deploy/bench/bench.sh flat [RATE]     sluice run for 10 minutes at RATE
#                                         records/s (default: 80 % of the
#                                         netflow9 rate of the last table run),
#                                         sampling its RSS every 10 s
#
# Results go to bench-results/<UTC time>/: steps.jsonl (every step),
# summary.md and summary.json, and per step the collectors' logs.
#
# Socket buffers: every collector gets the same receive buffer. sluice, nfcapd
# (-B) and pmacct (*_pipe_size) ask for 4 MiB, which Linux doubles to 8 MiB;
# goflow2 asks for nothing, so net.core.rmem_default is set to 8 MiB for the
# run, and net.core.rmem_max to at least 4 MiB so that the requests are not
# capped. Both are restored on exit. This needs root; the rb column of the
# table shows what each collector actually got.
#
# Environment: SLUICE_CACHE (default ~/.cache/sluice); BENCH_KAFKA_PORT
# (default 39092).
set -euo pipefail

readonly script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly repo=$(cd "$script_dir/../.." && pwd)
readonly cache=${SLUICE_CACHE:-$HOME/.cache/sluice}
readonly goflow2_version=v2.2.6
readonly goflow2_dir="$cache/goflow2-$goflow2_version"
readonly kafka_port=${BENCH_KAFKA_PORT:-39092}
readonly buffer=$((4 << 20))

log() { echo "bench.sh: $*" >&2; }
die() {
	log "$*"
	exit 1
}

cd "$repo"
((EUID == 0)) || die "run as root: the run sets net.core.rmem_max and rmem_default (see the header)"

mode=table
if [[ "${1:-}" == flat ]]; then
	mode=flat
	shift
	flat_rate=${1:-}
	[[ $# -gt 0 ]] && shift
fi

# What the run needs: Go modules, libchdb, the Debian peers (nfdump, pmacct),
# the Kafka jars, goflow2 from its module at a pinned version.
deploy/dev/deps.sh go
deploy/dev/deps.sh chdb >/dev/null
deploy/dev/deps.sh debian
deploy/dev/deps.sh kafka
if [[ ! -x "$goflow2_dir/goflow2" ]]; then
	log "installing goflow2 $goflow2_version into $goflow2_dir"
	(cd "$cache" && GOBIN="$goflow2_dir" GOFLAGS= go install "github.com/netsampler/goflow2/v2/cmd/goflow2@$goflow2_version")
fi
make -s build
go build -o bin/sluice-bench ./deploy/bench

# Equal socket buffers for every collector, restored on exit.
old_max=$(sysctl -n net.core.rmem_max)
old_default=$(sysctl -n net.core.rmem_default)
brokers=
cleanup() {
	sysctl -qw net.core.rmem_max="$old_max" net.core.rmem_default="$old_default" || true
	if [[ -n "$brokers" ]]; then
		SLUICE_KAFKA_PORT=$kafka_port deploy/dev/kafka.sh stop || true
	fi
}
trap cleanup EXIT
sysctl -qw net.core.rmem_max=$((old_max > buffer ? old_max : buffer)) net.core.rmem_default=$((2 * buffer))

if [[ $mode == flat ]]; then
	if [[ -z "$flat_rate" ]]; then
		last=$(ls -d bench-results/*/summary.json 2>/dev/null | tail -1)
		[[ -n "$last" ]] || die "no earlier table run to take the rate from: give RATE"
		flat_rate=$(bin/sluice-bench --rate-from "$last" --rate-fraction 0.8 --targets sluice-run --protocols netflow9)
	fi
	log "flatness run: sluice run, netflow9, $flat_rate records/s for 10 minutes"
	bin/sluice-bench --sluice bin/sluice --targets sluice-run --protocols netflow9 \
		--rates "$flat_rate" --duration 10m --rss-interval 10s "$@"
	exit
fi

# The port lies in the ephemeral range: an outgoing connection may hold it for a moment.
for attempt in 1 2 3; do
	brokers=$(SLUICE_KAFKA_PORT=$kafka_port deploy/dev/kafka.sh start) && break
	((attempt < 3)) || die "Kafka did not start on port $kafka_port"
	log "Kafka did not start (attempt $attempt), retrying"
	sleep 2
done
kafka_pid=$(cat "$cache/run/kafka-$kafka_port/kafka.pid" 2>/dev/null || echo 0)
bin/sluice-bench --sluice bin/sluice --goflow2 "$goflow2_dir/goflow2" \
	--kafka "$brokers" --kafka-pid "$kafka_pid" "$@"
