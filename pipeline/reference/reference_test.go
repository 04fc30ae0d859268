package reference

import (
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{ServiceName(6, 22), "ssh"},
		{ServiceName(6, 443), "https"},
		{ServiceName(17, 65000), ""},
		{ASName(15169), "Google LLC"},
		{ASName(13335), "Cloudflare, Inc."},
		{ASName(64512), ""}, // private ASNs are left out
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// TestTablesWellFormed checks every row has its table's number of fields,
// since the schema loads them as they are.
func TestTablesWellFormed(t *testing.T) {
	for name, table := range map[string]struct {
		text   string
		fields int
	}{
		"protocols":  {ProtocolsTSV, 3},
		"services":   {ServicesTSV, 3},
		"icmp_types": {ICMPTypesTSV, 3},
		"asn_names":  {ASNamesTSV(), 2},
	} {
		rows := strings.Split(strings.TrimRight(table.text, "\n"), "\n")
		if len(rows) < 10 {
			t.Errorf("%s: %d rows", name, len(rows))
		}
		for i, row := range rows {
			if n := len(strings.Split(row, "\t")); n != table.fields {
				t.Errorf("%s row %d: %d fields, want %d: %q", name, i+1, n, table.fields, row)
				break
			}
		}
	}
	if len(Services()) < 100 {
		t.Errorf("Services: %d entries", len(Services()))
	}
}
