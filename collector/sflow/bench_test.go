package sflow

import (
	"testing"

	"sluice/pipeline/record"
)

func benchmarkFile(b *testing.B, file string) {
	payload := corpusDatagrams(b, file)[0].Payload
	d := New(Config{})
	sink := uint64(0)
	emit := func(f *record.Flow) { sink += f.Bytes }
	flows := 0
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		st, _ := d.Decode(testExporter, 1, payload, emit)
		flows += st.Flows
	}
	if flows > 0 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(flows), "ns/record")
	}
	_ = sink
}

// BenchmarkDecodeSFlow: 5 flow samples with Ethernet/IPv4 headers.
func BenchmarkDecodeSFlow(b *testing.B) { benchmarkFile(b, "akvorado__sflow-1140.pcap") }

// BenchmarkDecodeSFlowExpanded: one expanded sample with header, Ethernet,
// switch and IPv4 records.
func BenchmarkDecodeSFlowExpanded(b *testing.B) {
	benchmarkFile(b, "akvorado__sflow-sflow-ipv4-data.pcap")
}

// BenchmarkParseHeader measures our header parsing alone, which must not
// allocate.
func BenchmarkParseHeader(b *testing.B) {
	header := []byte{
		0, 1, 0x10, 0x62, 0x14, 0x93, 0x4c, 0xae, 0xa3, 0x52, 0x0f, 0xf6, 0x81, 0x00, 0x44, 0x26, 0x81, 0x00, 0x45, 0xd5, 0x08, 0x00,
		0x45, 0, 0, 80, 0xdb, 0x5f, 0x40, 0, 62, 6, 0, 0, 49, 49, 49, 2, 49, 49, 49, 109,
		0x7d, 0x11, 1, 187, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x10, 0, 0,
	}
	var f record.Flow
	b.ReportAllocs()
	for b.Loop() {
		f.Reset()
		parseSampledHeader(headerProtocolEthernet, header, &f)
	}
	if f.SrcVlan != 1493 || f.DstPort != 443 {
		b.Fatalf("parsed %+v", f)
	}
}
