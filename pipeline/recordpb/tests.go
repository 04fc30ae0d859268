//go:build !release

package recordpb

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"

	"sluice/pipeline/record"
)

// RandomFlow returns a record with every column set to a random non-zero
// value that fits it, for tests here and in the packages that carry records
// (pipeline/kafka). It is driven by record.Columns, so a new column is
// covered without touching it. Addresses are IPv4 mapped half of the time;
// feed sets use TestFeeds.
func RandomFlow(r *rand.Rand) record.Flow {
	var f record.Flow
	feeds := TestFeeds()
	for i := range codecs {
		c := &codecs[i]
		switch c.column.Kind {
		case record.KindIPv6:
			a := c.column.Addr(&f)
			if r.IntN(2) == 0 {
				*a = record.AddrFrom4([4]byte{byte(r.IntN(223) + 1), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())})
			} else {
				for j := range a {
					a[j] = byte(r.Uint32())
				}
				a[0] = 0x20 // never ::
			}
			continue
		case record.KindString:
			*c.column.Str(&f) = randomStrings[r.IntN(len(randomStrings))]
			continue
		case record.KindCommunityID:
			h := c.column.Hash(&f)
			for j := range h {
				h[j] = byte(r.Uint32())
			}
			h[0] |= 1 // never zero
			continue
		case record.KindFeedSet:
			var set record.FeedSet
			for range 1 + r.IntN(3) {
				set |= feeds[r.IntN(len(feeds))]
			}
			c.column.SetUint(&f, uint64(set))
			continue
		}
		var v uint64
		if c.max == ^uint64(0) {
			v = r.Uint64()
		} else {
			v = r.Uint64N(c.max + 1)
		}
		c.column.SetUint(&f, max(v, 1))
	}
	return f
}

// randomStrings are string values for RandomFlow: ASCII, multi-byte UTF-8,
// and one of MaxStringLen bytes.
var randomStrings = []string{"edge-1", "Zürich", "東京", "transit: AS64500 — backup", strings.Repeat("x", MaxStringLen)}

// TestFeeds registers, once, record.MaxFeeds feed names of the longest
// allowed length, and returns their bits: every feed a process can have, so
// that tests can build the largest record.
func TestFeeds() []record.FeedSet {
	testFeedsOnce.Do(func() {
		for i := range record.MaxFeeds {
			name := fmt.Sprintf("test-feed-%02d-", i)
			name += strings.Repeat("f", record.MaxFeedNameLen-len(name))
			bit, ok := record.RegisterFeed(name)
			if !ok {
				panic("recordpb: cannot register test feed " + name)
			}
			testFeeds = append(testFeeds, bit)
		}
	})
	return testFeeds
}

var (
	testFeedsOnce sync.Once
	testFeeds     []record.FeedSet
)
