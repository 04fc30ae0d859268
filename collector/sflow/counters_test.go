package sflow

import (
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"sluice/internal/testenv"
	"sluice/internal/tshark"
	"sluice/pipeline/record"
)

// counterChecks pair each tshark field of a counter sample with the
// record.Counter field it must equal.
var counterChecks = []struct {
	tshark string
	got    func(*record.Counter) uint64
}{
	{"sflow.counters_sample.sequence_number", func(c *record.Counter) uint64 { return uint64(c.SequenceNumber) }},
	{"sflow.counters_sample.source_id_type", func(c *record.Counter) uint64 { return uint64(c.SourceIDType) }},
	{"sflow.counters_sample.source_id_index", func(c *record.Counter) uint64 { return uint64(c.SourceIDIndex) }},
	{"sflow_245.ifindex", func(c *record.Counter) uint64 { return uint64(c.IfIndex) }},
	{"sflow_245.iftype", func(c *record.Counter) uint64 { return uint64(c.IfType) }},
	{"sflow_245.ifspeed", func(c *record.Counter) uint64 { return c.IfSpeed }},
	{"sflow_245.ifdirection", func(c *record.Counter) uint64 { return uint64(c.IfDirection) }},
	{"sflow_245.ifadmin_status", func(c *record.Counter) uint64 { return uint64(c.IfAdminStatus) }},
	{"sflow_245.ifoper_status", func(c *record.Counter) uint64 { return uint64(c.IfOperStatus) }},
	{"sflow_245.ifinoct", func(c *record.Counter) uint64 { return c.IfInOctets }},
	{"sflow_245.ifinpkt", func(c *record.Counter) uint64 { return uint64(c.IfInUcastPkts) }},
	{"sflow_245.ifinmcast", func(c *record.Counter) uint64 { return uint64(c.IfInMulticastPkts) }},
	{"sflow_245.ifinbcast", func(c *record.Counter) uint64 { return uint64(c.IfInBroadcastPkts) }},
	{"sflow_245.ifindisc", func(c *record.Counter) uint64 { return uint64(c.IfInDiscards) }},
	{"sflow_245.ifinerr", func(c *record.Counter) uint64 { return uint64(c.IfInErrors) }},
	{"sflow_245.ifinunk", func(c *record.Counter) uint64 { return uint64(c.IfInUnknownProtos) }},
	{"sflow_245.ifoutoct", func(c *record.Counter) uint64 { return c.IfOutOctets }},
	{"sflow_245.ifoutpkt", func(c *record.Counter) uint64 { return uint64(c.IfOutUcastPkts) }},
	{"sflow_245.ifoutmcast", func(c *record.Counter) uint64 { return uint64(c.IfOutMulticastPkts) }},
	{"sflow_245.ifoutbcast", func(c *record.Counter) uint64 { return uint64(c.IfOutBroadcastPkts) }},
	{"sflow_245.ifoutdisc", func(c *record.Counter) uint64 { return uint64(c.IfOutDiscards) }},
	{"sflow_245.ifouterr", func(c *record.Counter) uint64 { return uint64(c.IfOutErrors) }},
	{"sflow_245.ifpromisc", func(c *record.Counter) uint64 { return uint64(c.IfPromiscuous) }},
	{"sflow_245.dot3StatsAlignmentErrors", func(c *record.Counter) uint64 { return uint64(c.Dot3StatsAlignmentErrors) }},
	{"sflow_245.dot3StatsFCSErrors", func(c *record.Counter) uint64 { return uint64(c.Dot3StatsFCSErrors) }},
	{"sflow_245.dot3StatsSingleCollisionFrames", func(c *record.Counter) uint64 { return uint64(c.Dot3StatsSingleCollisionFrames) }},
	{"sflow_245.dot3StatsMultipleCollisionFrames", func(c *record.Counter) uint64 { return uint64(c.Dot3StatsMultipleCollisionFrames) }},
	{"sflow_245.dot3StatsSQETestErrors", func(c *record.Counter) uint64 { return uint64(c.Dot3StatsSQETestErrors) }},
	{"sflow_245.dot3StatsDeferredTransmissions", func(c *record.Counter) uint64 { return uint64(c.Dot3StatsDeferredTransmissions) }},
	{"sflow_245.dot3StatsLateCollisions", func(c *record.Counter) uint64 { return uint64(c.Dot3StatsLateCollisions) }},
	{"sflow_245.dot3StatsExcessiveCollisions", func(c *record.Counter) uint64 { return uint64(c.Dot3StatsExcessiveCollisions) }},
	{"sflow_245.dot3StatsInternalMacTransmitErrors", func(c *record.Counter) uint64 { return uint64(c.Dot3StatsInternalMacTransmitErrors) }},
	{"sflow_245.dot3StatsCarrierSenseErrors", func(c *record.Counter) uint64 { return uint64(c.Dot3StatsCarrierSenseErrors) }},
	{"sflow_245.dot3StatsFrameTooLongs", func(c *record.Counter) uint64 { return uint64(c.Dot3StatsFrameTooLongs) }},
	{"sflow_245.dot3StatsInternalMacReceiveErrors", func(c *record.Counter) uint64 { return uint64(c.Dot3StatsInternalMacReceiveErrors) }},
	{"sflow_245.dot3StatsSymbolErrors", func(c *record.Counter) uint64 { return uint64(c.Dot3StatsSymbolErrors) }},
}

// counterCaptures are the corpus captures holding counter samples with
// generic interface or Ethernet counters (per tshark).
var counterCaptures = []string{
	"lssflow__counters-1.pcap",
	"lssflow__lag-counters.pcap",
	"telegraf__sflow-issue15918.pcap",
	"telegraf__sflow-issue18876.pcap",
}

// TestCountersMatchTshark decodes the corpus's counter samples and compares
// every field with tshark's decoding, sample by sample.
func TestCountersMatchTshark(t *testing.T) {
	bin := testenv.Tshark(t)
	compared, samples := 0, 0
	for _, file := range counterCaptures {
		_, frames, err := tshark.Decode(bin, filepath.Join(corpusDir(t), file))
		if err != nil {
			t.Fatal(err)
		}
		d := New(Config{})
		for i, dg := range corpusDatagrams(t, file) {
			var got []record.Counter
			stats, err := d.DecodeWithCounters(record.AddrFromSlice(dg.Src.AsSlice()), dg.Timestamp, dg.Payload,
				func(*record.Flow) {}, func(c *record.Counter) { got = append(got, *c) })
			if err != nil {
				t.Fatalf("%s frame %d: %v", file, i+1, err)
			}
			fr := frames[i]
			var want []map[string][]string
			for _, c := range fr.Counters {
				formats := c["sflow_245.counters_record_format"]
				if slices.Contains(formats, "1") || slices.Contains(formats, "2") {
					want = append(want, c)
				}
			}
			if len(got) != len(want) || stats.Counters != len(got) {
				t.Fatalf("%s frame %d: %d counter records (stats %d), tshark has %d", file, i+1, len(got), stats.Counters, len(want))
			}
			for j := range got {
				c, w := &got[j], want[j]
				samples++
				if a := fr.Header["sflow_245.agent"]; len(a) > 0 && tshark.Addr(a[0]) != c.ExporterAddress.String() {
					t.Errorf("%s frame %d: agent %s, tshark %s", file, i+1, c.ExporterAddress, a[0])
				}
				if sub := fr.Header["sflow_245.sub_agent_id"]; len(sub) > 0 && sub[0] != strconv.FormatUint(uint64(c.ObservationDomainID), 10) {
					t.Errorf("%s frame %d: sub-agent %d, tshark %s", file, i+1, c.ObservationDomainID, sub[0])
				}
				if c.HasGeneric != (w["sflow_245.ifindex"] != nil) || c.HasEthernet != (w["sflow_245.dot3StatsFCSErrors"] != nil) {
					t.Errorf("%s frame %d sample %d: generic %v, ethernet %v; tshark %v", file, i+1, j, c.HasGeneric, c.HasEthernet, w)
				}
				for _, check := range counterChecks {
					values := w[check.tshark]
					if len(values) == 0 {
						continue
					}
					want, err := strconv.ParseUint(values[0], 0, 64)
					if err != nil {
						t.Fatalf("%s: %s = %q", file, check.tshark, values[0])
					}
					compared++
					if got := check.got(c); got != want {
						t.Errorf("%s frame %d sample %d: %s = %d, tshark %d", file, i+1, j, check.tshark, got, want)
					}
				}
			}
		}
	}
	if samples < 4 || compared < 100 {
		t.Errorf("compared %d values of %d counter samples; the corpus has more", compared, samples)
	}
	t.Logf("%d counter samples, %d values compared", samples, compared)
}

// Decode without a counter callback still counts counter samples.
func TestCountersCountedWithoutCallback(t *testing.T) {
	d := New(Config{})
	payload := corpusPayload(t, "lssflow__counters-1.pcap")
	stats, err := d.Decode(addr4("127.0.0.1"), 1, payload, noEmit)
	if err != nil || stats.CounterSamples == 0 || stats.Counters != 0 {
		t.Fatalf("stats %+v, err %v", stats, err)
	}
}
