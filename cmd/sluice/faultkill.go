package main

import (
	"context"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"

	"sluice/internal/reporter"
	"sluice/pipeline"
	"sluice/pipeline/record"
)

// killAfterInsertsEnv, for fault tests only, makes `sluice pipeline` kill
// itself (SIGKILL) right after its Nth gathering is stored and before it is
// committed: the one moment a crash leaves rows stored and not committed,
// which no outside kill can hit on purpose. Unset (always, in production),
// nothing changes.
const killAfterInsertsEnv = "SLUICE_FAULT_KILL_AFTER_INSERTS"

// withKillAfterInserts appends the fault sink to sinks when
// killAfterInsertsEnv is set to a positive number.
func withKillAfterInserts(r *reporter.Reporter, sinks []pipeline.Sink) []pipeline.Sink {
	n, err := strconv.ParseInt(os.Getenv(killAfterInsertsEnv), 10, 64)
	if err != nil || n <= 0 {
		return sinks
	}
	r.Warn("fault injection: this process kills itself after storing a gathering", "env", killAfterInsertsEnv, "inserts", n)
	return append(sinks, &killAfterInserts{r: r, n: n})
}

// killAfterInserts is the last sink: every sink before it has stored the
// gathering when it is called.
type killAfterInserts struct {
	r    *reporter.Reporter
	n    int64
	seen atomic.Int64
}

func (k *killAfterInserts) WriteBatches(_ context.Context, _ [][]record.Flow, token string) error {
	if k.seen.Add(1) == k.n {
		k.r.Warn("fault injection: killed after storing a gathering, before committing it", "token", token)
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
	return nil
}
