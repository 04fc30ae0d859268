package demo

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"sluice/internal/tshark"
)

// countersConfig has sFlow counter samples and interface names on, with more interfaces
// than fit in one datagram of either.
func countersConfig() Config {
	cfg := DefaultConfig()
	cfg.Exporters = 2
	cfg.Interfaces = 30
	cfg.CounterInterval = DefaultCounterInterval
	cfg.InterfaceNames = true
	return cfg
}

// The sFlow counter samples and the NetFlow v9/IPFIX interface names the demo sends are what
// tshark, the reference decoder, reads: every field of every sample and record, the record
// formats, the headers' sequence numbers. They come at start and then on their timers (20 s,
// and the 30 s template refresh), and the counters grow by exactly the traffic the exporter
// sampled in between, each sample counting for its sampling rate.
func TestTsharkDecodesCountersAndNames(t *testing.T) {
	bin := requireTshark(t)
	cfg := countersConfig()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	// Rounds at 0, 11, 22 and 33 s: counters at 0 and 22 s, names at 0 and 33 s.
	caps, g := generate(t, cfg, start, []int{300, 300, 300, 300}, 11*time.Second)
	pcap := filepath.Join(t.TempDir(), "demo.pcap")
	writePCAP(t, pcap, caps, start)
	_, frames, err := tshark.Decode(bin, pcap)
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) != len(caps) {
		t.Fatalf("tshark decoded %d frames, generated %d datagrams", len(frames), len(caps))
	}

	exporters := g.Exporters()
	type ifKey struct{ exporter, ifIndex int }
	var sampled = map[ifKey][2]uint64{} // in and out octets sampled since the last counter sample
	var last = map[ifKey]InterfaceCounters{}
	sequences := map[int]uint64{}
	var samples, names, polls uint64
	for i, d := range caps {
		fr := frames[i]
		if fr.Malformed || len(fr.Expert) > 0 && len(d.flows) == 0 {
			t.Errorf("frame %d (%s): malformed %v, expert info %v", i+1, d.protocol, fr.Malformed, fr.Expert)
		}
		e := exporters[d.exporter]
		// Sequence numbers run across flow, counter and options datagrams alike.
		seqField := map[string]string{NetFlow9: "cflow.sequence", IPFIX: "cflow.sequence", SFlow5: "sflow_245.sequence_number", NetFlow5: "cflow.sequence"}[d.protocol]
		if got := first(fr.Header, seqField); got != strconv.FormatUint(sequences[d.exporter], 10) {
			t.Errorf("frame %d (%s): %s = %s, want %d", i+1, d.protocol, seqField, got, sequences[d.exporter])
		}
		switch d.protocol {
		case NetFlow9, SFlow5:
			sequences[d.exporter]++
		default:
			sequences[d.exporter] += uint64(len(d.flows) + len(d.names))
		}
		for _, f := range d.flows {
			if f.Protocol == SFlow5 {
				in, out := ifKey{d.exporter, int(f.InIf)}, ifKey{d.exporter, int(f.OutIf)}
				s := sampled[in]
				s[0] += f.Bytes * uint64(f.SamplingRate)
				sampled[in] = s
				s = sampled[out]
				s[1] += f.Bytes * uint64(f.SamplingRate)
				sampled[out] = s
			}
		}
		if fr.Templates != d.templates {
			t.Errorf("frame %d (%s): tshark found %d templates, generated %d", i+1, d.protocol, fr.Templates, d.templates)
		}

		if len(fr.Counters) != len(d.counters) {
			t.Fatalf("frame %d: tshark found %d counter samples, generated %d", i+1, len(fr.Counters), len(d.counters))
		}
		for j, c := range d.counters {
			got := fr.Counters[j]
			if fmt.Sprint(got["sflow_245.counters_record_format"]) != "[1 2]" {
				t.Errorf("frame %d sample %d: record formats %v, want generic (1) and Ethernet (2)", i+1, j, got["sflow_245.counters_record_format"])
			}
			for field, want := range map[string]uint64{
				"sflow_245.ifindex": uint64(c.IfIndex), "sflow_245.iftype": ifTypeEthernet, "sflow_245.ifspeed": c.IfSpeed,
				"sflow_245.ifdirection": ifFullDuplex, "sflow_245.ifadmin_status": 1, "sflow_245.ifoper_status": 1,
				"sflow_245.ifinoct": c.InOctets, "sflow_245.ifinpkt": uint64(c.InUcastPkts),
				"sflow_245.ifinmcast": uint64(c.InMulticastPkts), "sflow_245.ifinbcast": uint64(c.InBroadcastPkts),
				"sflow_245.ifindisc": uint64(c.InDiscards), "sflow_245.ifinerr": uint64(c.InErrors),
				"sflow_245.ifinunk": uint64(c.InUnknownProtos), "sflow_245.ifoutoct": c.OutOctets,
				"sflow_245.ifoutpkt": uint64(c.OutUcastPkts), "sflow_245.ifoutmcast": uint64(c.OutMulticastPkts),
				"sflow_245.ifoutbcast": uint64(c.OutBroadcastPkts), "sflow_245.ifoutdisc": uint64(c.OutDiscards),
				"sflow_245.ifouterr": uint64(c.OutErrors), "sflow_245.ifpromisc": uint64(c.PromiscuousMode),
				"sflow_245.dot3StatsAlignmentErrors": uint64(c.Dot3AlignmentErrors),
				"sflow_245.dot3StatsFCSErrors":       uint64(c.Dot3FCSErrors),
				"sflow_245.dot3StatsSymbolErrors":    uint64(c.Dot3SymbolErrors),
				"sflow_245.dot3StatsLateCollisions":  0,
			} {
				if s := first(got, field); !sameUint(s, want) {
					t.Errorf("frame %d sample %d: %s = %q, want %d", i+1, j, field, s, want)
				}
			}
			key := ifKey{d.exporter, int(c.IfIndex)}
			if prev, ok := last[key]; ok {
				polls++
				if in, out := c.InOctets-prev.InOctets, c.OutOctets-prev.OutOctets; in != sampled[key][0] || out != sampled[key][1] {
					t.Errorf("exporter %d ifIndex %d: counters grew by %d in, %d out; the samples between say %d, %d",
						d.exporter, c.IfIndex, in, out, sampled[key][0], sampled[key][1])
				}
				if c.SampleSequence != prev.SampleSequence+1 {
					t.Errorf("exporter %d ifIndex %d: sample sequence %d after %d", d.exporter, c.IfIndex, c.SampleSequence, prev.SampleSequence)
				}
			}
			last[key], sampled[key] = c, [2]uint64{}
			samples++
		}

		if len(fr.Options) != len(d.names) {
			t.Fatalf("frame %d: tshark found %d options records, generated %d", i+1, len(fr.Options), len(d.names))
		}
		for j, n := range d.names {
			got := fr.Options[j]
			if first(got, "cflow.inputint") != strconv.Itoa(int(n.IfIndex)) || first(got, "cflow.if_name") != n.Name ||
				first(got, "cflow.if_descr") != n.Description {
				t.Errorf("frame %d options record %d: tshark %v, generated %+v", i+1, j, got, n)
			}
			if n != e.InterfaceNames[slicesIndex(e.Interfaces, n.IfIndex)] {
				t.Errorf("frame %d: names %+v, the exporter's are %+v", i+1, n, e.InterfaceNames)
			}
			names++
		}
	}
	// 2 sFlow exporters × 30 interfaces × 2 polls; 4 NetFlow v9/IPFIX exporters × 30 × 2.
	st := g.Stats()
	if samples != 120 || st.SFlow5.CounterSamples != 120 || polls != 60 {
		t.Errorf("%d counter samples decoded (%d counted, %d second polls), want 120 (60)", samples, st.SFlow5.CounterSamples, polls)
	}
	if names != 240 || st.NetFlow9.InterfaceNames != 120 || st.IPFIX.InterfaceNames != 120 {
		t.Errorf("%d names decoded, %d+%d counted, want 240", names, st.NetFlow9.InterfaceNames, st.IPFIX.InterfaceNames)
	}
	if st.Flows != 1200 {
		t.Errorf("%d flows, want 1200", st.Flows)
	}
}

// Counter and options datagrams fill, never exceed, the datagram size.
func TestCountersAndNamesFitTheDatagram(t *testing.T) {
	for _, size := range []int{minDatagramSize, 1400, 9000} {
		cfg := countersConfig()
		cfg.Interfaces = maxInterfaces
		cfg.MaxDatagramSize = size
		caps, _ := generate(t, cfg, time.Unix(1e9, 0), []int{10}, time.Second)
		var counters, names int
		for _, d := range caps {
			if len(d.payload) > size {
				t.Errorf("size %d: a %s datagram of %d bytes", size, d.protocol, len(d.payload))
			}
			counters += len(d.counters)
			names += len(d.names)
		}
		if counters != 2*maxInterfaces || names != 4*maxInterfaces {
			t.Errorf("size %d: %d counter samples and %d names, want %d and %d", size, counters, names, 2*maxInterfaces, 4*maxInterfaces)
		}
	}
}

func first(fields map[string][]string, name string) string {
	if v := fields[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func sameUint(s string, want uint64) bool {
	got, err := strconv.ParseUint(s, 0, 64)
	return err == nil && got == want
}

func slicesIndex(s []uint32, v uint32) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}
