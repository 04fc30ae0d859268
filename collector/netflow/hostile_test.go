package netflow

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"testing"

	"sluice/collector/decodeerr"
	"sluice/pipeline/record"
)

// TestSpoofedSourcesKeepNoState: data from sources that never sent a
// template, as a flood with spoofed addresses is, leaves no state behind.
func TestSpoofedSourcesKeepNoState(t *testing.T) {
	datagrams := corpusDatagrams(t, "akvorado__nfv9-template-data.pcap")
	template, data := datagrams[0].Payload, datagrams[1].Payload
	d := New(Config{})
	for i := range 1000 {
		src := record.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		if _, err := d.Decode(src, 1, data, noEmit); decodeerr.Reason(err) != decodeerr.TemplateNotFound {
			t.Fatalf("reason %q", decodeerr.Reason(err))
		}
	}
	if st := d.Templates().Stats(); st.Exporters != 0 {
		t.Fatalf("%d exporters kept for data-only sources", st.Exporters)
	}
	d.Decode(testExporter, 1, template, noEmit)
	if st := d.Templates().Stats(); st.Exporters != 1 || st.Templates != 1 {
		t.Errorf("stats %+v, want one exporter with one template", st)
	}
}

// v9Message builds a NetFlow v9 datagram from sets, with the given count.
func v9Message(count uint16, sets ...[]byte) []byte {
	msg := []byte{0, 9, byte(count >> 8), byte(count), 0, 0, 0, 1, 0x60, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}
	for _, s := range sets {
		msg = append(msg, s...)
	}
	return msg
}

// TestTemplateFieldCountBomb: a template record claiming more fields than
// its set holds is refused before goflow2, which would allocate for the
// claimed count first (65535 fields: 768 KiB), sees it.
func TestTemplateFieldCountBomb(t *testing.T) {
	valid := set(2, 1, 0, 0, 1, 0, 8, 0, 4) // IPFIX template 256: IE 8, 4 bytes
	cases := []struct {
		name    string
		msg     []byte
		minimal bool // the 28-byte datagram of the brief
	}{
		{"v9 template", v9Message(1, set(0, 1, 0, 0xff, 0xff)), true},
		{"v9 options template", v9Message(1, set(1, 1, 0, 0xff, 0xfc, 0xff, 0xfc)), false},
		{"IPFIX template", ipfixMessage(set(2, 1, 0, 0xff, 0xff)), false},
		{"IPFIX options template", ipfixMessage(set(3, 1, 0, 0xff, 0xff, 0xff, 0xfe)), false},
		{"IPFIX options scope count above count", ipfixMessage(set(3, 1, 0, 0, 1, 0xff, 0xff, 0, 8, 0, 4)), false},
		// An enterprise field takes 8 bytes: 2 fields of which one is
		// enterprise-specific need 12 bytes, the set holds 8.
		{"IPFIX enterprise field", ipfixMessage(set(2, 1, 0, 0, 2, 0x80, 8, 0, 4, 0, 8, 0, 4)), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := New(Config{})
			if tc.minimal && len(tc.msg) != 28 {
				t.Fatalf("datagram of %d bytes, want 28", len(tc.msg))
			}
			if _, err := d.Decode(testExporter, 1, tc.msg, noEmit); decodeerr.Reason(err) != decodeerr.Malformed {
				t.Errorf("reason %q (%v), want malformed", decodeerr.Reason(err), err)
			}
			allocs := testing.AllocsPerRun(100, func() { d.Decode(testExporter, 1, tc.msg, noEmit) })
			perCall := bytesPerCall(func() { d.Decode(testExporter, 1, tc.msg, noEmit) })
			if allocs >= 4 || perCall >= 1024 {
				t.Errorf("%v allocations, %d bytes per datagram; want < 4 and < 1 KiB", allocs, perCall)
			}
		})
	}
	// A valid set before the hostile one is decoded.
	d := New(Config{})
	_, err := d.Decode(testExporter, 1, ipfixMessage(valid, set(2, 1, 1, 0xff, 0xff)), noEmit)
	if st := d.Templates().Stats(); st.Templates != 1 || decodeerr.Reason(err) != decodeerr.Malformed {
		t.Errorf("valid set then hostile: %d templates, reason %q; want 1 and malformed", st.Templates, decodeerr.Reason(err))
	}
}

// bytesPerCall returns the bytes allocated by one call of f, averaged.
func bytesPerCall(f func()) uint64 {
	const n = 1000
	f()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / n
}

// TestV9HeaderCount: every set up to the end of the datagram is decoded
// whatever the header's count says; a count below the number of sets is
// counted. The caller's payload is left untouched.
func TestV9HeaderCount(t *testing.T) {
	datagrams := corpusDatagrams(t, "akvorado__nfv9-template-data.pcap")
	for _, count := range []uint16{0, 1} {
		d := New(Config{})
		var flows, mismatches int
		for _, dg := range datagrams {
			payload := bytes.Clone(dg.Payload)
			binary.BigEndian.PutUint16(payload[2:], count)
			kept := bytes.Clone(payload)
			st, err := d.Decode(testExporter, 1, payload, noEmit)
			if err != nil {
				t.Fatalf("count %d: %v", count, err)
			}
			if !bytes.Equal(payload, kept) {
				t.Fatal("Decode modified its payload")
			}
			flows += st.Flows
			mismatches += st.HeaderCountMismatch
		}
		// The template datagram has 1 set, the data datagram 1 set.
		wantMismatches := map[uint16]int{0: 2, 1: 0}[count]
		if flows != 4 || mismatches != wantMismatches {
			t.Errorf("count %d: %d flows, %d mismatches; want 4 and %d", count, flows, mismatches, wantMismatches)
		}
	}
	// A datagram holding more sets than its count (6 sets, count 2).
	res := decodeFile(t, New(Config{}), "logstash__nf9-invalid01.pcap")
	if res.stats.HeaderCountMismatch != 1 || res.stats.Flows != 2 {
		t.Errorf("nf9-invalid01: %d mismatches, %d flows; want 1 and 2", res.stats.HeaderCountMismatch, res.stats.Flows)
	}
}

// TestAllocsV5 pins what decoding a v5 datagram allocates: goflow2's
// records slice and the bytes.Buffer wrapping the payload.
func TestAllocsV5(t *testing.T) {
	payload := corpusDatagrams(t, "akvorado__nfv5.pcap")[0].Payload
	d := New(Config{})
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := d.Decode(testExporter, 1, payload, noEmit); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 {
		t.Errorf("%v allocations per v5 datagram, want at most 2", allocs)
	}
}

// TestAllocsExtract: our extraction of a v9 record allocates nothing.
func TestAllocsExtract(t *testing.T) {
	d, ctx, values := extractFixture(t)
	var f record.Flow
	var stats Stats
	if allocs := testing.AllocsPerRun(100, func() { d.extract(ctx, values, &f, &stats) }); allocs != 0 {
		t.Errorf("%v allocations per record, want 0", allocs)
	}
	if f.SrcAddr.IsZero() {
		t.Error("nothing extracted")
	}
}

// TestAllocsDataSets pins what decoding a v9 or IPFIX data datagram
// allocates, whatever its number of records: nothing (data sets are
// walked in place, the scratch memory is pooled).
func TestAllocsDataSets(t *testing.T) {
	for _, file := range []string{"akvorado__nfv9-template-data.pcap", "akvorado__multiplesamplingrates.pcap", "logstash__ipfix-openbsd-pflow.pcap",
		"akvorado__ipfixprobe.pcap", "telegraf__ipfix-example.pcap"} {
		d, payloads := primed(t, file)
		// The datagram with the most records and no template.
		var data []byte
		flows := 0
		for _, p := range payloads {
			if st, err := d.Decode(testExporter, 1, p, noEmit); err == nil && st.Templates == 0 && st.Flows > flows {
				data, flows = p, st.Flows
			}
		}
		if flows == 0 {
			t.Fatalf("%s: no data datagram", file)
		}
		allocs := testing.AllocsPerRun(100, func() { d.Decode(testExporter, 1, data, noEmit) })
		// Under -race, the pool's drops cost a few allocations per
		// datagram; one per record would still show.
		if budget := map[bool]float64{false: 0, true: 2}[raceEnabled]; allocs > budget {
			t.Errorf("%s: %v allocations per datagram of %d records, want at most %v", file, allocs, flows, budget)
		}
	}
}
