package embedded_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"sluice/pipeline/record"
	"sluice/storage/clickhouse"
	"sluice/storage/migrate"
	"sluice/storage/schema"
)

// Counter samples written by the storage writer (Native, as flows) read
// back field by field, and the same batch written again under the same
// token is stored once.
func TestWriteCountersReadBackOnce(t *testing.T) {
	migrateSchema(t)
	if err := engine.Exec(t.Context(), "TRUNCATE TABLE "+migrate.CountersTable); err != nil {
		t.Fatal(err)
	}
	w := newWriter(t)
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
		if err := w.WriteCounters(writeCtx(t), rows, "counters-test-1"); err != nil {
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

// Every column of schema.Counters stores exactly what its accessor reads,
// over each field's whole range: the declaration, the DDL and the insert
// columns agree.
func TestWriteCountersEveryColumn(t *testing.T) {
	migrateSchema(t)
	if err := engine.Exec(t.Context(), "TRUNCATE TABLE "+migrate.CountersTable); err != nil {
		t.Fatal(err)
	}
	rows := randomCounters(500, 7)
	if err := newWriter(t).WriteCounters(writeCtx(t), rows, ""); err != nil {
		t.Fatal(err)
	}
	var exprs []string
	for _, c := range schema.Counters.Columns {
		name := clickhouse.QuoteIdentifier(c.Name)
		switch c.Type {
		case "DateTime":
			name = "toUnixTimestamp(" + name + ")"
		case "IPv6":
			name = "IPv6NumToString(" + name + ")"
		}
		exprs = append(exprs, name)
	}
	got := strings.Split(strings.TrimSuffix(query(t, "SELECT "+strings.Join(exprs, ", ")+" FROM "+migrate.CountersTable), "\n"), "\n")
	want := make([]string, len(rows))
	for i := range rows {
		var fields []string
		for _, c := range schema.Counters.Columns {
			switch c.Type {
			case "DateTime":
				fields = append(fields, strconv.FormatInt(int64(c.Uint(&rows[i]))/1e9, 10))
			case "IPv6":
				fields = append(fields, netip.AddrFrom16(*c.Addr(&rows[i])).String())
			case "Bool":
				fields = append(fields, strconv.FormatBool(c.Uint(&rows[i]) != 0))
			default:
				fields = append(fields, strconv.FormatUint(c.Uint(&rows[i]), 10))
			}
		}
		want[i] = strings.Join(fields, "\t")
	}
	sameRows(t, got, want)
}

// randomCounters returns n samples with every field drawn over its range
// (the enumerations over their values), received within one day.
func randomCounters(n int, seed uint64) []record.Counter {
	rng := rand.New(rand.NewPCG(seed, 0xc0c0))
	rows := make([]record.Counter, n)
	for i := range rows {
		v := reflect.ValueOf(&rows[i]).Elem()
		for f := range v.NumField() {
			switch field := v.Field(f); field.Kind() {
			case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
				field.SetUint(rng.Uint64() >> (64 - field.Type().Bits()))
			case reflect.Bool:
				field.SetBool(rng.IntN(2) == 1)
			}
		}
		rows[i].SourceIDType %= 3
		rows[i].IfDirection %= 5
		rows[i].TimeReceived = 1_700_000_000_000_000_000 + rng.Int64N(86400e9)
		if rng.IntN(2) == 0 {
			rows[i].ExporterAddress = record.AddrFrom4([4]byte{192, 0, 2, byte(i)})
		} else {
			binary.BigEndian.PutUint64(rows[i].ExporterAddress[:8], 0x20010db8<<32|rng.Uint64N(1<<32))
			binary.BigEndian.PutUint64(rows[i].ExporterAddress[8:], rng.Uint64())
		}
	}
	return rows
}
