package enrich

import (
	"sync"
	"testing"

	"sluice/pipeline/enrich/geoip"
)

func TestAddressCache(t *testing.T) {
	c := newAddressCache(64)
	a := addr("::ffff:192.0.2.1")
	hi, lo := addressKey(&a)
	if _, ok := c.get(hi, lo, 1); ok {
		t.Fatal("an empty cache answers")
	}
	net := &netAttrs{name: "corp"}
	geo, asn := &geoip.Result{Country: "GB"}, &geoip.Result{ASN: 64500}
	c.put(hi, lo, 1, addressFacts{net: net, feeds: 5, own: true, geo: geoip.Answer{Geo: geo, ASN: asn}})
	if got, ok := c.get(hi, lo, 1); !ok || got.net != net || got.feeds != 5 || !got.own || got.geo.Geo != geo || got.geo.ASN != asn {
		t.Fatalf("got %+v %v", got, ok)
	}
	if _, ok := c.get(hi, lo, 2); ok {
		t.Fatal("an entry of another generation answers")
	}
	if _, ok := c.get(hi, lo+1, 1); ok {
		t.Fatal("another address answers")
	}
	// A bucket holds four addresses; more replace the older ones, and
	// whatever is found is what was put for that address.
	for i := range uint64(1000) {
		c.put(i, i, 1, addressFacts{feeds: i})
	}
	found := 0
	for i := range uint64(1000) {
		if got, ok := c.get(i, i, 1); ok {
			found++
			if got.feeds != i {
				t.Fatalf("address %d: feeds %d", i, got.feeds)
			}
		}
	}
	if found == 0 || found > 64 {
		t.Fatalf("%d of 1000 addresses found in 64 slots", found)
	}
}

// Readers and writers of the same slots at once: run with -race, and no
// reader may see the facts of one address under another's key.
func TestAddressCacheConcurrent(t *testing.T) {
	c := newAddressCache(16)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range uint64(20000) {
				k := (i*7 + uint64(w)) % 64
				if got, ok := c.get(k, k, 1); ok && got.feeds != k {
					t.Errorf("address %d: feeds %d", k, got.feeds)
					return
				}
				c.put(k, k, 1, addressFacts{feeds: k})
			}
		})
	}
	wg.Wait()
}
