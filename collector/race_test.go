//go:build race

package collector

// raceEnabled: the race detector makes decoding about 20 times slower;
// load tests scale down under it.
const raceEnabled = true
