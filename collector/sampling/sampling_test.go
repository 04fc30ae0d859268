package sampling

import (
	"net/netip"
	"testing"

	"sluice/pipeline/record"
)

func addr(s string) record.Addr { return record.Addr(netip.MustParseAddr(s).As16()) }

func TestOverrides(t *testing.T) {
	o, err := NewOverrides(map[string]uint64{
		"192.0.2.0/24":   100,
		"192.0.2.128/25": 200,
		"192.0.2.7":      300,
		"2001:db8::/32":  400,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		exporter string
		want     uint64
	}{
		{"::ffff:192.0.2.1", 100},
		{"::ffff:192.0.2.200", 200}, // longest prefix wins
		{"::ffff:192.0.2.7", 300},
		{"2001:db8::1", 400},
		{"::ffff:198.51.100.1", 0},
		{"::c000:201", 0}, // IPv4-compatible, not mapped: another address
	} {
		if got := o.Rate(addr(tc.exporter)); got != tc.want {
			t.Errorf("%s: rate %d, want %d", tc.exporter, got, tc.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { o.Rate(addr("::ffff:192.0.2.200")) }); n != 0 {
		t.Errorf("Rate allocates %v times", n)
	}
	var none *Overrides
	if none.Rate(addr("::ffff:192.0.2.1")) != 0 {
		t.Error("nil overrides force a rate")
	}
}

func TestValidate(t *testing.T) {
	if err := (Config{Overrides: map[string]uint64{"192.0.2.0/24": 10}}).Validate(); err != nil {
		t.Error(err)
	}
	for _, bad := range []map[string]uint64{{"not-a-prefix": 10}, {"192.0.2.0/24": 0}} {
		if err := (Config{Overrides: bad}).Validate(); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}
