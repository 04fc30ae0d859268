#!/usr/bin/env bash
# demo.sh runs the all-in-one sluice (collector + embedded ClickHouse) on
# loopback and feeds it with the built-in demo exporter, printing a live line
# of what was sent and what is stored. Ctrl-C stops both; the data stays in
# $SLUICE_DATA (default ./data) for the next run.
#
#   deploy/dev/demo.sh [BIN]     BIN defaults to bin/sluice
#
# Environment: SLUICE_DATA, SLUICE_HTTP (127.0.0.1:8080), SLUICE_DEMO_RATE
# (flows/s, default 2000), SLUICE_DEMO_DURATION (default 1h).
set -euo pipefail

bin=${1:-bin/sluice}
data=${SLUICE_DATA:-./data}
http=${SLUICE_HTTP:-127.0.0.1:8080}
rate=${SLUICE_DEMO_RATE:-2000}
duration=${SLUICE_DEMO_DURATION:-1h}

[[ -x "$bin" ]] || { echo "demo.sh: $bin not built (make build)" >&2; exit 1; }
[[ -n "${CHDB_LIB_PATH:-}" ]] || { echo "demo.sh: CHDB_LIB_PATH is not set (deploy/dev/deps.sh chdb)" >&2; exit 1; }
mkdir -p "$data"
log="$data/sluice.log"

"$bin" run --data "$data" --http "$http" \
	--netflow-listen 127.0.0.1:2055,127.0.0.1:4739 --sflow-listen 127.0.0.1:6343 >>"$log" 2>&1 &
sluice_pid=$!
stop() {
	trap - EXIT INT TERM
	if kill -0 "$sluice_pid" 2>/dev/null; then
		echo "demo.sh: stopping sluice (flushing what it holds)..." >&2
		kill -TERM "$sluice_pid"
		wait "$sluice_pid" || true
	fi
}
trap stop EXIT INT TERM

for _ in $(seq 1 120); do
	if curl -fsS "http://$http/readyz" >/dev/null 2>&1; then break; fi
	if ! kill -0 "$sluice_pid" 2>/dev/null; then
		echo "demo.sh: sluice exited; last lines of $log:" >&2
		tail -20 "$log" >&2
		exit 1
	fi
	sleep 0.5
done
curl -fsS "http://$http/readyz" >/dev/null || { echo "demo.sh: sluice not ready after 60 s; see $log" >&2; exit 1; }

cat >&2 <<MSG
sluice is running: NetFlow/IPFIX on 127.0.0.1:2055 and :4739, sFlow on :6343, HTTP on $http (log: $log)
Query it from another terminal, for example:
  $bin sql "SELECT count(), sum(Bytes) FROM flows"
  $bin sql "SELECT FlowType, count() AS flows, sum(Bytes*SamplingRate) AS bytes FROM flows GROUP BY FlowType"
  curl -s http://$http/metrics | grep ^sluice_
Sending demo flows at $rate/s for $duration (Ctrl-C to stop):
MSG
"$bin" demo --target 127.0.0.1:2055 --sflow-target 127.0.0.1:6343 \
	--rate "$rate" --duration "$duration" --sluice "http://$http" || true
