//go:build !release

package recordpb

import (
	"math/rand/v2"

	"sluice/pipeline/record"
)

// RandomFlow returns a record with every column set to a random non-zero
// value that fits it, for tests here and in the packages that carry records
// (pipeline/kafka). It is driven by record.Columns, so a new column is
// covered without touching it. Addresses are IPv4 mapped half of the time.
func RandomFlow(r *rand.Rand) record.Flow {
	var f record.Flow
	for i := range codecs {
		c := &codecs[i]
		if c.column.Addr != nil {
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
