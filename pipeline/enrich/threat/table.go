package threat

import (
	"net/netip"
	"slices"

	"github.com/gaissmai/bart"
)

// buildTable merges the feeds' prefixes into one prefix table whose value
// is the mask of every feed listing the prefix or any prefix covering it.
// Prefixes are inserted shortest first, so the longest covering prefix
// already in the table carries the masks of all its own supernets: one
// longest-prefix lookup then answers for every feed.
//
// The own networks are then cut out for the feeds in excluded: each own
// prefix is inserted with its covering mask less those bits, and every
// entry inside it loses them, so an address inside answers without them
// whatever entry it falls on, and Match needs no second lookup.
func buildTable(feeds [][]netip.Prefix, own []netip.Prefix, excluded uint64) *bart.Table[uint64] {
	masks := make(map[netip.Prefix]uint64)
	for i, prefixes := range feeds {
		for _, p := range prefixes {
			masks[p] |= 1 << i
		}
	}
	ordered := make([]netip.Prefix, 0, len(masks))
	for p := range masks {
		ordered = append(ordered, p)
	}
	slices.SortFunc(ordered, func(a, b netip.Prefix) int { return a.Bits() - b.Bits() })
	table := new(bart.Table[uint64])
	for _, p := range ordered {
		covering, _ := table.LookupPrefix(p)
		table.Insert(p, masks[p]|covering)
	}
	if excluded == 0 {
		return table
	}
	for _, p := range own {
		p = p.Masked()
		covering, _ := table.LookupPrefix(p)
		var inside []netip.Prefix
		for sub := range table.Subnets(p) {
			inside = append(inside, sub)
		}
		for _, sub := range inside {
			mask, _ := table.Get(sub)
			table.Insert(sub, mask&^excluded)
		}
		if mask, exists := table.Get(p); exists {
			table.Insert(p, mask&^excluded)
		} else {
			table.Insert(p, covering&^excluded)
		}
	}
	return table
}
