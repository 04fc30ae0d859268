package snmp

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

func TestExporterTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var in, out []netip.Addr
	seen := map[netip.Addr]bool{}
	for len(in)+len(out) < 20000 {
		var a netip.Addr
		if rng.IntN(2) == 0 {
			a = netip.AddrFrom4([4]byte{10, byte(rng.IntN(4)), byte(rng.IntN(256)), byte(rng.IntN(256))})
		} else {
			var b [16]byte
			b[0], b[1], b[15] = 0x20, 0x01, byte(rng.IntN(256))
			b[8] = byte(rng.IntN(64))
			a = netip.AddrFrom16(b)
		}
		if seen[a] {
			continue
		}
		seen[a] = true
		if len(in) < 10000 {
			in = append(in, a)
		} else {
			out = append(out, a)
		}
	}
	list := make([]*exporter, len(in))
	for i, a := range in {
		list[i] = &exporter{addr: a, key: keyOf(a)}
	}
	table := newExporterTable(list)
	if table.n != len(in) || len(table.list()) != len(in) {
		t.Fatalf("n = %d, list %d; want %d", table.n, len(table.list()), len(in))
	}
	if len(table.slots) < 2*len(in) {
		t.Errorf("%d slots for %d exporters: more than half full", len(table.slots), len(in))
	}
	for i, a := range in {
		if got := table.get(keyOf(a)); got != list[i] {
			t.Fatalf("get(%s) = %v", a, got)
		}
		if a.Is4() {
			if got := table.get(keyOf(netip.AddrFrom16(a.As16()))); got != list[i] {
				t.Fatalf("get(IPv4-mapped %s) = %v", a, got)
			}
		}
	}
	for _, a := range out {
		if got := table.get(keyOf(a)); got != nil {
			t.Fatalf("get(%s) = %v, want nil", a, got.addr)
		}
	}
	if got := newExporterTable(nil).get(keyOf(in[0])); got != nil {
		t.Errorf("empty table returned %v", got)
	}
}
