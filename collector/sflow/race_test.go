//go:build race

package sflow

// raceEnabled: under the race detector sync.Pool drops some of what is
// put back, so pooled memory is sometimes allocated again.
const raceEnabled = true
