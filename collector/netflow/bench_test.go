package netflow

import (
	"testing"

	"github.com/netsampler/goflow2/v2/decoders/netflow"

	"sluice/pipeline/record"
)

// benchmarkFile decodes the data datagrams of a capture in a loop, after
// one pass to learn its templates. Reports bytes/s and ns per record.
func benchmarkFile(b *testing.B, file string) {
	d, payloads := primed(b, file)
	benchmarkDecode(b, d, payloads)
}

// benchmarkDecode decodes payloads in a loop with d, which knows their
// templates. Reports bytes/s and ns per record.
func benchmarkDecode(b *testing.B, d *Decoder, payloads [][]byte) {
	var size, flows int
	for _, p := range payloads {
		size += len(p)
	}
	sink := uint64(0)
	emit := func(f *record.Flow) { sink += f.Bytes }
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, p := range payloads {
			st, _ := d.Decode(testExporter, 1, p, emit)
			flows += st.Flows
		}
	}
	b.StopTimer()
	if flows > 0 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(flows), "ns/record")
	}
	_ = sink
}

func BenchmarkDecodeNetFlowV5(b *testing.B) { benchmarkFile(b, "akvorado__nfv5.pcap") }

func BenchmarkDecodeNetFlowV9(b *testing.B) { benchmarkFile(b, "logstash__nf9-cisco-1941k9.pcap") }

func BenchmarkDecodeIPFIX(b *testing.B) { benchmarkFile(b, "logstash__ipfix-openbsd-pflow.pcap") }

// BenchmarkExtract measures our field extraction alone on one v9 record,
// which must not allocate (TestAllocsExtract pins it).
func BenchmarkExtract(b *testing.B) {
	d, ctx, values := extractFixture(b)
	var f record.Flow
	var stats Stats
	b.ReportAllocs()
	for b.Loop() {
		d.extract(ctx, values, &f, &stats)
	}
}

// extractFixture returns a decoder that knows the templates of
// akvorado__nfv9-template-data.pcap, the context of its data datagram and
// the values of its first data record.
func extractFixture(tb testing.TB) (*Decoder, *packetContext, []netflow.DataField) {
	tb.Helper()
	d, payloads := primed(tb, "akvorado__nfv9-template-data.pcap")
	ctx := &packetContext{version: 9, exporter: testExporter}
	h := d.store.Handle(testExporter, 1)
	ctx.state = &h
	flowSets, err := netflow.DecodeMessageCommon(newBuffer(payloads[1][v9HeaderLen:]), ctx.state, 0, 0xffff, 9)
	if err != nil {
		tb.Fatal(err)
	}
	for _, fs := range flowSets {
		if fs, ok := fs.(netflow.DataFlowSet); ok && len(fs.Records) > 0 {
			return d, ctx, fs.Records[0].Values
		}
	}
	tb.Fatal("no data records")
	return nil, nil, nil
}
