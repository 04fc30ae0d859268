package recordpb

import (
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"

	"sluice/pipeline/record"
	"sluice/pipeline/recordpb/flowpb"
)

// typicalIPv4Flow is what a NetFlow v9/IPFIX router exports for a TCP flow:
// IPv4 addresses and next hop, no BGP next hop, VLANs, MACs, label or
// fragment data.
func typicalIPv4Flow() record.Flow {
	return record.Flow{
		TimeReceived:        1_790_000_000_123_456_789,
		TimeFlowStart:       1_789_999_990_000,
		TimeFlowEnd:         1_790_000_000_000,
		FlowType:            record.FlowTypeIPFIX,
		ExporterAddress:     record.AddrFrom4([4]byte{192, 0, 2, 1}),
		ObservationDomainID: 1,
		SamplerID:           1,
		SamplingRate:        1000,
		SrcAddr:             record.AddrFrom4([4]byte{198, 51, 100, 23}),
		DstAddr:             record.AddrFrom4([4]byte{203, 0, 113, 200}),
		SrcNetMask:          24,
		DstNetMask:          22,
		SrcAS:               64500,
		DstAS:               15169,
		NextHop:             record.AddrFrom4([4]byte{192, 0, 2, 254}),
		SrcPort:             51234,
		DstPort:             443,
		Proto:               6,
		EType:               0x0800,
		TCPFlags:            0x1b,
		IPTTL:               57,
		InIfIndex:           12,
		OutIfIndex:          7,
		ForwardingStatus:    64,
		FlowDirection:       1,
		Bytes:               1_482_113,
		Packets:             1_107,
	}
}

func BenchmarkAppendBatchFlow(b *testing.B) {
	f := typicalIPv4Flow()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendBatchFlow(buf[:0], &f)
	}
	b.ReportMetric(float64(len(buf)), "wirebytes/record")
}

func BenchmarkUnmarshalFlow(b *testing.B) {
	f := typicalIPv4Flow()
	encoded := AppendFlow(nil, &f)
	var decoded record.Flow
	b.SetBytes(int64(len(encoded)))
	b.ReportAllocs()
	for b.Loop() {
		if err := UnmarshalFlow(encoded, &decoded); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBatch encodes and decodes a Kafka message's worth of records.
func BenchmarkBatch(b *testing.B) {
	const n = 1000
	r := rand.New(rand.NewPCG(1, 1))
	flows := make([]record.Flow, n)
	for i := range flows {
		flows[i] = typicalIPv4Flow()
		flows[i].SrcPort = uint16(r.Uint32())
		flows[i].Bytes = r.Uint64N(1 << 24)
	}
	var buf []byte
	decoded := make([]record.Flow, 0, n)
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf = buf[:0]
			for i := range flows {
				buf = AppendBatchFlow(buf, &flows[i])
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
		b.ReportMetric(float64(len(buf))/n, "wirebytes/record")
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if decoded, err = UnmarshalBatch(buf, decoded[:0]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
	})
}

// BenchmarkGenerated is the protoc-gen-go code doing the same work, for
// comparison: it is why sluice does not use it on the hot path.
func BenchmarkGenerated(b *testing.B) {
	f := typicalIPv4Flow()
	encoded := AppendFlow(nil, &f)
	b.Run("marshal", func(b *testing.B) {
		var m flowpb.Flow
		if err := proto.Unmarshal(encoded, &m); err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 0, 4096)
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if buf, err = (proto.MarshalOptions{}).MarshalAppend(buf[:0], &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m flowpb.Flow
			if err := proto.Unmarshal(encoded, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
