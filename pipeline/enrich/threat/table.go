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
func buildTable(feeds [][]netip.Prefix) *bart.Table[uint64] {
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
	return table
}
