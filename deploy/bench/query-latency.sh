#!/usr/bin/env bash
# query-latency.sh compares the query library's latency between two sluice
# binaries on the same data (BENCHMARKS.md, third round of 7 December 2026).
# BEFORE stores RATE records/s of NetFlow v9, IPFIX and sFlow for DURATION
# with `sluice run`; its data directory is copied; BEFORE then queries one
# copy and AFTER the other (migrating it first when its schema is newer),
# ROUNDS times interleaved, every query 5 times after a warm-up over the 10
# minutes, the hour and the day ending at the data's last minute. Prints each
# query's median wall time in ms (the `sluice query` command's, its start
# included). Everything binds 127.0.0.1 (ports PORTBASE to PORTBASE+2,
# default 33000) and works in /tmp/sluice-query-latency, whose two data
# copies it removes at the end; detections are off.
#
#   deploy/bench/query-latency.sh BEFORE AFTER [RATE] [DURATION] [ROUNDS]
#   e.g. git worktree add /tmp/base v1 && (cd /tmp/base && go build -o /tmp/sluice-before ./cmd/sluice)
#        deploy/bench/query-latency.sh /tmp/sluice-before bin/sluice 100000 60s 2
set -u
if [[ $# -lt 2 ]]; then
	sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
fi
BASEBIN=$1 NEWBIN=$2 RATE=${3:-100000} DUR=${4:-60s} ROUNDS=${5:-2}
P=${PORTBASE:-33000}
dir=/tmp/sluice-query-latency; rm -rf $dir; mkdir -p $dir
cat > $dir/cfg.yaml <<Y
collector:
  netflow:
    receive-buffer: 4194304
  flush-interval: 250ms
pipeline:
  flush-interval: 500ms
detect:
  enabled: false               # they would evaluate beside the timed queries
status-interval: 0s
Y
fail() { echo "query-latency.sh: $*" >&2; exit 1; }
start() { # BIN DATA
  $1 run --config $dir/cfg.yaml --data $2 --http 127.0.0.1:$P \
    --netflow-listen 127.0.0.1:$((P+1)) --sflow-listen 127.0.0.1:$((P+2)) --clickhouse-listen off 2>> $dir/log.$(basename $2) &
  pid=$!
  for i in $(seq 120); do
    curl -sf 127.0.0.1:$P/readyz >/dev/null && return
    kill -0 $pid 2>/dev/null || fail "$1 run exited; see $dir/log.$(basename $2)"
    sleep 1
  done
  fail "$1 run not ready after 120 s"
}
stop() { # SIGTERM, then SIGKILL after 60 s
  kill -TERM $pid 2>/dev/null
  for i in $(seq 600); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
  kill -KILL $pid 2>/dev/null
  wait $pid 2>/dev/null
  pid=
}
pid=
trap '[[ -n $pid ]] && kill -KILL $pid 2>/dev/null; rm -rf $dir/a $dir/b' EXIT
q() { curl -s "127.0.0.1:$P/api/v1/sql?format=TSV" --data-urlencode "query=$1" -G; }

start $BASEBIN $dir/a
$BASEBIN demo --target 127.0.0.1:$((P+1)) --sflow-target 127.0.0.1:$((P+2)) --protocols netflow9,ipfix,sflow5 --exporters 16 --bind-sources --pool 1024 --send-batch 64 \
  --pacing-interval 1ms --template-refresh 1s --counter-interval 0 --rate $RATE --duration $DUR --quiet --json > $dir/demo.json 2>$dir/demo.err ||
  fail "the load generator failed: $(tail -3 $dir/demo.err)"
sleep 20
echo "stored: $(q 'SELECT count(), min(TimeReceived), max(TimeReceived) FROM sluice.flows')"
addr=$(q "SELECT SrcAddr FROM sluice.flows GROUP BY SrcAddr ORDER BY count() DESC LIMIT 1")
end=$(q "SELECT formatDateTime(toStartOfMinute(max(TimeReceived)) + INTERVAL 1 MINUTE, '%Y-%m-%dT%H:%i:%SZ', 'UTC') FROM sluice.flows")
[[ $end == 20* && -n $addr ]] || fail "nothing stored"
stop
cp -a $dir/a $dir/b || fail "copy the data directory"
names=$($BASEBIN query list | awk '{print $1}')
for round in $(seq $ROUNDS); do
  for side in a b; do
    bin=$BASEBIN; [ $side = b ] && bin=$NEWBIN
    start $bin $dir/$side
    for name in $names; do
      for span in 10m 1h 24h; do
        from=$(date -u -d "$end - ${span/m/ minutes}" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null)
        [ $span = 1h ] && from=$(date -u -d "$end - 1 hour" +%Y-%m-%dT%H:%M:%SZ)
        [ $span = 24h ] && from=$(date -u -d "$end - 24 hours" +%Y-%m-%dT%H:%M:%SZ)
        $bin query $name --from $from --to $end --param address=$addr --param alert=none --addr 127.0.0.1:$P --format tsv > /dev/null 2>>$dir/query.err || { echo -e "$side\t$name\t$span\terror" >> $dir/raw.tsv; continue; }
        for rep in 1 2 3 4 5; do
          t0=$(date +%s%N)
          if $bin query $name --from $from --to $end --param address=$addr --param alert=none --addr 127.0.0.1:$P --format tsv > /dev/null 2>>$dir/query.err; then
            echo -e "$side\t$name\t$span\t$(( ($(date +%s%N) - t0) / 100000 ))" >> $dir/raw.tsv
          else
            echo -e "$side\t$name\t$span\terror" >> $dir/raw.tsv
          fi
        done
      done
    done
    stop
  done
done
python3 - $dir/raw.tsv <<'PY'
import sys, statistics, collections
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    side, name, span, v = line.rstrip('\n').split('\t')
    d[(name, span, side)].append(v)
keys = sorted({(n, s) for n, s, _ in d}, key=lambda k: (k[0], ['10m','1h','24h'].index(k[1])))
print("query\trange\tbefore ms\tafter ms\tafter/before")
for n, s in keys:
    a, b = d[(n, s, 'a')], d[(n, s, 'b')]
    if not a or not b or 'error' in a or 'error' in b:
        print(f"{n}\t{s}\t{'error' if not a or 'error' in a else '-'}\t{'error' if not b or 'error' in b else '-'}"); continue
    ma, mb = statistics.median(float(x)/10 for x in a), statistics.median(float(x)/10 for x in b)
    print(f"{n}\t{s}\t{ma:.1f}\t{mb:.1f}\t{mb/ma:.2f}")
PY
