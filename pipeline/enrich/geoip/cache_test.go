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
