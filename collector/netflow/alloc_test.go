//go:build !race

package netflow

import (
	"testing"

	"sluice/pipeline/record"
)

// The no-allocation tests are left out of -race builds, where sync.Pool
// drops some of what is put back; `make test` runs them without it.

// Naming records after the interfaces an exporter announced costs no
// allocation.
func TestInterfaceLookupAllocatesNothing(t *testing.T) {
	d := New(Config{})
	if _, err := d.Decode(testExporter, 0, ipfixFlows(true, [2]uint32{1, 3}), func(*record.Flow) {}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Decode(testExporter, 1, ipfixInterfaceNames(map[uint32][2]string{1: {"xe-0/0/1", "uplink to transit A"}, 3: {"ae3", ""}}), func(*record.Flow) {}); err != nil {
		t.Fatal(err)
	}
	msg := ipfixFlows(false, [2]uint32{1, 3})
	named := false
	if _, err := d.Decode(testExporter, 2, msg, func(f *record.Flow) { named = f.InIfName == "xe-0/0/1" }); err != nil {
		t.Fatal(err)
	}
	if !named {
		t.Fatal("the record is not named after its interface")
	}
	if allocs := testing.AllocsPerRun(100, func() { d.Decode(testExporter, 5, msg, func(*record.Flow) {}) }); allocs > 0 {
		t.Errorf("%v allocations per datagram with interface names", allocs)
	}
}
