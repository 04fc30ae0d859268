//go:build race

package hec

// raceEnabled: under the race detector sync.Pool drops what it is given
// at random, so json.Valid's pooled scanner is allocated now and then.
const raceEnabled = true
