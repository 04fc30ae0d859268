package embedded_test

import (
	"fmt"
	"net/netip"
	"testing"

	"sluice/pipeline/record"
	"sluice/storage/migrate"
)

// Counter samples inserted with migrate.InsertCounters read back field by
// field, and the same insert under the same token is stored once.
func TestCountersInsertReadBackOnce(t *testing.T) {
	migrateSchema(t)
	if err := engine.Exec(t.Context(), "TRUNCATE TABLE "+migrate.CountersTable); err != nil {
		t.Fatal(err)
	}
	rows := []record.Counter{{
		TimeReceived: 1_700_000_000_123_456_789, ExporterAddress: record.AddrFrom4([4]byte{192, 0, 2, 7}),
		ObservationDomainID: 3, SequenceNumber: 99, SourceIDIndex: 12,
		HasGeneric: true, IfIndex: 12, IfType: 6, IfSpeed: 10_000_000_000, IfDirection: 1, IfAdminStatus: 1, IfOperStatus: 1,
		IfInOctets: 1 << 40, IfInUcastPkts: 4_000_000_000, IfOutOctets: 123, IfOutErrors: 7,
		HasEthernet: true, Dot3StatsFCSErrors: 5, Dot3StatsSymbolErrors: 4_294_967_295,
	}, {
		TimeReceived: 1_700_000_020_000_000_000, ExporterAddress: record.Addr(netip.MustParseAddr("2001:db8::9").As16()),
		SourceIDIndex: 4, IfIndex: 4, HasEthernet: true, Dot3StatsAlignmentErrors: 1,
	}}
	for range 2 {
		if err := engine.Exec(t.Context(), migrate.InsertCounters(rows, "counters-test-1")); err != nil {
			t.Fatal(err)
		}
	}
	got := query(t, "SELECT toUnixTimestamp(TimeReceived), IPv6NumToString(ExporterAddress), ObservationDomainID, SequenceNumber, IfIndex, IfType, IfSpeed, "+
		"IfAdminStatus, IfOperStatus, HasGeneric, IfInOctets, IfInUcastPkts, IfOutOctets, IfOutErrors, HasEthernet, Dot3StatsFCSErrors, Dot3StatsSymbolErrors, Dot3StatsAlignmentErrors "+
		"FROM "+migrate.CountersTable+" ORDER BY TimeReceived")
	want := fmt.Sprintf("1700000000\t::ffff:192.0.2.7\t3\t99\t12\t6\t10000000000\t1\t1\ttrue\t%d\t4000000000\t123\t7\ttrue\t5\t4294967295\t0\n", uint64(1)<<40) +
		"1700000020\t2001:db8::9\t0\t0\t4\t0\t0\t0\t0\tfalse\t0\t0\t0\t0\ttrue\t0\t0\t1\n"
	if got != want {
		t.Errorf("interface_counters:\n%s\nwant:\n%s", got, want)
	}
}
