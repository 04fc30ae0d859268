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
// which must not allocate.
func BenchmarkExtract(b *testing.B) {
	d, payloads := primed(b, "akvorado__nfv9-template-data.pcap")
	s := new(scratch)
	var stats Stats
	if err := d.decodeTemplated(s, testExporter, 1, payloads[1], noEmit, &stats); err != nil {
		b.Fatal(err)
	}
	ctx := packetContext{version: 9, exporter: testExporter, state: d.store.Exporter(testExporter)}
	var data [][]netflow.DataField
	for _, fs := range s.v9.FlowSets {
		if fs, ok := fs.(netflow.DataFlowSet); ok {
			for _, r := range fs.Records {
				data = append(data, r.Values)
			}
		}
	}
	if len(data) == 0 {
		b.Fatal("no data records")
	}
	b.ReportAllocs()
	for b.Loop() {
		d.extract(&ctx, data[0], &s.flow, &stats)
	}
}
