#!/usr/bin/env bash
# demo.sh runs the all-in-one sluice (collector + embedded ClickHouse) on
# loopback and feeds it with the built-in demo exporter, printing a live line
# of what was sent and what is stored. Ctrl-C stops the demo, which waits for
# the last flows to be stored and prints the final count, then sluice; the data
# stays in $SLUICE_DATA (default ./data) for the next run.
#
#   deploy/dev/demo.sh [BIN]     BIN defaults to bin/sluice
#
# Environment: SLUICE_DATA, SLUICE_HTTP (127.0.0.1:8080), SLUICE_CLICKHOUSE
# (ClickHouse HTTP interface, 127.0.0.1:8123), SLUICE_NETFLOW
# (127.0.0.1:2055,127.0.0.1:4739), SLUICE_SFLOW (127.0.0.1:6343),
# SLUICE_DEMO_RATE (flows/s, default 2000), SLUICE_DEMO_DURATION (default 1h).
set -euo pipefail

bin=${1:-bin/sluice}
data=${SLUICE_DATA:-./data}
http=${SLUICE_HTTP:-127.0.0.1:8080}
clickhouse=${SLUICE_CLICKHOUSE:-127.0.0.1:8123}
netflow=${SLUICE_NETFLOW:-127.0.0.1:2055,127.0.0.1:4739}
sflow=${SLUICE_SFLOW:-127.0.0.1:6343}
rate=${SLUICE_DEMO_RATE:-2000}
duration=${SLUICE_DEMO_DURATION:-1h}

[[ -x "$bin" ]] || { echo "demo.sh: $bin not built (make build)" >&2; exit 1; }
mkdir -p "$data"
log="$data/sluice.log"

# sluice runs in a session of its own, so that Ctrl-C in the terminal reaches
# only the demo: the demo then waits for sluice to store its last flows and
# prints the final count, and only then does stop() below end sluice.
setsid "$bin" run --data "$data" --http "$http" --clickhouse-listen "$clickhouse" \
	--netflow-listen "$netflow" --sflow-listen "$sflow" >>"$log" 2>&1 &
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

ready() { "$bin" sql --addr "http://$http" --format tsv "SELECT 1" >/dev/null 2>&1; }
for _ in $(seq 1 120); do
	if ready; then break; fi
	if ! kill -0 "$sluice_pid" 2>/dev/null; then
		echo "demo.sh: sluice exited; last lines of $log:" >&2
		tail -20 "$log" >&2
		exit 1
	fi
	sleep 0.5
done
ready || { echo "demo.sh: sluice not ready after 60 s; see $log" >&2; exit 1; }

cat >&2 <<MSG
sluice is running: NetFlow/IPFIX on $netflow, sFlow on $sflow, HTTP on $http (log: $log)
Query it from another terminal, for example:
  $bin sql --addr http://$http "SELECT count(), sum(Bytes) FROM flows"
  $bin sql --addr http://$http "SELECT ExporterAddress, FlowType, count() AS flows, sum(Bytes*SamplingRate) AS bytes FROM flows GROUP BY ALL ORDER BY ALL"
  curl -s http://$http/metrics | grep ^sluice_
  curl -s 'http://$clickhouse/?database=sluice' --data-binary 'SELECT count() FROM flows'   (ClickHouse's HTTP interface: Grafana, DBeaver, clickhouse-go)
Each simulated exporter sends from its own address (127.0.1.N).
Sending demo flows at $rate/s for $duration (Ctrl-C to stop):
MSG
"$bin" demo --target "${netflow%%,*}" --sflow-target "${sflow%%,*}" --bind-sources \
	--rate "$rate" --duration "$duration" --sluice "http://$http" || true
