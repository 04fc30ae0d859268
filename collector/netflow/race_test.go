//go:build race

package netflow

// raceEnabled: under the race detector sync.Pool drops some of what is
// put back, so pooled scratch memory is sometimes allocated again.
const raceEnabled = true
