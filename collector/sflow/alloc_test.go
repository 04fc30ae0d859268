//go:build !race

package sflow

import (
	"testing"

	"sluice/pipeline/record"
)

// The no-allocation tests are left out of -race builds, where sync.Pool
// drops some of what is put back; `make test` runs them without it.

// TestAllocsExtraction: decoding a datagram (walk, header parsing,
// record extraction) allocates nothing.
func TestAllocsExtraction(t *testing.T) {
	d := New(Config{Decapsulate: DecapsulateVXLAN | DecapsulateGRE})
	for _, file := range []string{"akvorado__sflow-qinq.pcap", "akvorado__sflow-1140.pcap", "lssflow__lag-counters.pcap", "akvorado__sflow-encap-vxlan.pcap"} {
		payload := corpusPayload(t, file)
		if allocs := testing.AllocsPerRun(100, func() {
			d.DecodeWithCounters(testExporter, 1, payload, func(*record.Flow) {}, func(*record.Counter) {})
		}); allocs != 0 {
			t.Errorf("%s: %v allocations per datagram, want 0", file, allocs)
		}
	}
}
