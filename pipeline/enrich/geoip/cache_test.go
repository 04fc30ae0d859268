package geoip

import (
	"fmt"
	"testing"
)

func TestRecordCacheIsBoundedAndExact(t *testing.T) {
	c := newRecordCache(64)
	for i := range 1000 {
		offset := uintptr(i * 37)
		c.put(offset, Result{City: fmt.Sprint(i)})
		if got := c.get(offset); got == nil || got.result.City != fmt.Sprint(i) {
			t.Fatalf("offset %d not found right after put: %+v", offset, got)
		}
	}
	if n := c.filled.Load(); n != 64 {
		t.Fatalf("filled = %d, want the 64 slots", n)
	}
	found := 0
	for i := range 1000 {
		if got := c.get(uintptr(i * 37)); got != nil {
			if got.result.City != fmt.Sprint(i) {
				t.Fatalf("offset %d answers another record: %+v", i*37, got)
			}
			found++
		}
	}
	if found != 64 {
		t.Fatalf("%d records cached, want 64", found)
	}
}

func TestAddressCacheAnswersOnlyItsAddress(t *testing.T) {
	c := newAddressCache(16)
	a, b := &cachedRecord{offset: 1}, &cachedRecord{offset: 2}
	c.put(1, 2, a)
	if got := c.get(1, 2); got != a {
		t.Fatalf("get after put = %v", got)
	}
	if got := c.get(2, 1); got != nil {
		t.Fatalf("another address got %v", got)
	}
	for lo := range uint64(64) { // overwrite every slot
		c.put(7, lo, b)
	}
	if got := c.get(1, 2); got != nil && got != a {
		t.Fatalf("evicted address answers %v", got)
	}
	if got := c.get(7, 63); got != b {
		t.Fatalf("latest put not found: %v", got)
	}
}
