package snmp

import (
	"fmt"
	"maps"
	"testing"
	"time"
)

// Small ifIndexes go in an array, large sparse ones (Juniper, Cisco
// sub-interfaces) in a map; both answer the same.
func TestSnapshotLayouts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		dense bool
		ifs   map[uint32]Interface
	}{
		{"numbered from 1", true, map[uint32]Interface{1: {Name: "lo"}, 2: {Name: "eth0", Speed: 1e9}, 7: {}}},
		// 2000 ports numbered from 1001: an array of 3001 slots, two thirds used.
		{"large but dense", true, numbered(1001, 2000)},
		{"sparse", false, map[uint32]Interface{1: {Name: "lo0"}, 512: {Name: "ge-0/0/0"}, 540: {Name: "ge-0/0/0.0"}, 1_000_123: {Name: "Gi0/1.100", Description: "vlan 100"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSnapshot("r", time.Now(), maps.Clone(tc.ifs))
			if dense := s.sparse == nil; dense != tc.dense {
				t.Errorf("dense = %v, want %v", dense, tc.dense)
			}
			if s.count != len(tc.ifs) {
				t.Errorf("count = %d, want %d", s.count, len(tc.ifs))
			}
			for idx, want := range tc.ifs {
				if got, ok := s.lookup(idx); !ok || got != want {
					t.Errorf("lookup(%d) = %+v, %v; want %+v", idx, got, ok, want)
				}
			}
			for _, idx := range []uint32{0, 4, 999_999, 1 << 31} {
				if _, want := tc.ifs[idx]; !want {
					if got, ok := s.lookup(idx); ok {
						t.Errorf("lookup(%d) = %+v, true; want a miss", idx, got)
					}
				}
			}
			seen := map[uint32]Interface{}
			s.each(func(idx uint32, iface Interface) { seen[idx] = iface })
			if !maps.Equal(seen, tc.ifs) {
				t.Errorf("each saw %v, want %v", seen, tc.ifs)
			}
		})
	}
}

func numbered(first uint32, n int) map[uint32]Interface {
	m := map[uint32]Interface{}
	for i := range uint32(n) {
		m[first+i] = Interface{Name: fmt.Sprintf("et-0/0/%d", i), Speed: 10e9}
	}
	return m
}
