package collector

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/netsampler/goflow2/v2/decoders/netflow"
	"github.com/netsampler/goflow2/v2/decoders/netflowlegacy"
	"github.com/netsampler/goflow2/v2/decoders/sflow"
	"github.com/netsampler/goflow2/v2/producer"
	protoproducer "github.com/netsampler/goflow2/v2/producer/proto"

	"sluice/internal/demo"
)

// The baselines of the worker benchmarks (collector_timing_test.go):
// goflow2's own decoders, alone and followed by its protobuf producer (the
// default mapping, as cmd/goflow2 runs it), on the same demo datagrams,
// reporting ns and allocations per record the same way.
//
//	go test -run '^$' -bench 'Worker|Goflow2' -benchmem ./collector

// goflow2Decode decodes one datagram with goflow2 into a fresh packet and
// returns it (the message the producer takes).
type goflow2Decode func(payload []byte) (any, error)

func goflow2Decoder(protocol string) goflow2Decode {
	templates := netflow.CreateTemplateSystem()
	switch protocol {
	case demo.NetFlow5:
		return func(p []byte) (any, error) {
			var packet netflowlegacy.PacketNetFlowV5
			err := netflowlegacy.DecodeMessageVersion(bytes.NewBuffer(p), &packet)
			return &packet, err
		}
	case demo.SFlow5:
		return func(p []byte) (any, error) {
			var packet sflow.Packet
			err := sflow.DecodeMessageVersion(bytes.NewBuffer(p), &packet)
			return &packet, err
		}
	}
	return func(p []byte) (any, error) {
		var v9 netflow.NFv9Packet
		var ipfix netflow.IPFIXPacket
		err := netflow.DecodeMessageVersion(bytes.NewBuffer(p), templates, &v9, &ipfix)
		if p[1] == 9 {
			return &v9, err
		}
		return &ipfix, err
	}
}

func benchmarkGoflow2(b *testing.B, protocol string, produce bool) {
	payloads, records := demoPayloads(b, protocol)
	decode := goflow2Decoder(protocol)
	var prod producer.ProducerInterface
	if produce {
		cfg, err := (&protoproducer.ProducerConfig{}).Compile()
		if err != nil {
			b.Fatal(err)
		}
		if prod, err = protoproducer.CreateProtoProducer(cfg, protoproducer.CreateSamplingSystem); err != nil {
			b.Fatal(err)
		}
	}
	args := &producer.ProduceArgs{
		Src:            netip.MustParseAddrPort("192.0.2.1:50000"),
		Dst:            netip.MustParseAddrPort("192.0.2.2:2055"),
		SamplerAddress: netip.MustParseAddr("192.0.2.1"),
		TimeReceived:   time.Now(),
	}
	run := func(p []byte) int {
		packet, err := decode(p)
		if err != nil {
			b.Fatal(err)
		}
		if prod == nil {
			return 0
		}
		msgs, err := prod.Produce(packet, args)
		if err != nil {
			b.Fatal(err)
		}
		prod.Commit(msgs)
		return len(msgs)
	}
	// Templates first, once; then the producer must make every record.
	produced := 0
	for _, p := range payloads {
		produced += run(p)
	}
	if produce && produced != records {
		b.Fatalf("goflow2's producer made %d records of %d", produced, records)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run(payloads[i%len(payloads)])
	}
	b.StopTimer()
	perRecord := float64(records) / float64(len(payloads))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/perRecord, "ns/record")
	b.ReportMetric(perRecord, "records/datagram")
}

func BenchmarkGoflow2DecodeNetFlowV5(b *testing.B)  { benchmarkGoflow2(b, demo.NetFlow5, false) }
func BenchmarkGoflow2DecodeNetFlowV9(b *testing.B)  { benchmarkGoflow2(b, demo.NetFlow9, false) }
func BenchmarkGoflow2DecodeIPFIX(b *testing.B)      { benchmarkGoflow2(b, demo.IPFIX, false) }
func BenchmarkGoflow2DecodeSFlow(b *testing.B)      { benchmarkGoflow2(b, demo.SFlow5, false) }
func BenchmarkGoflow2ProduceNetFlowV5(b *testing.B) { benchmarkGoflow2(b, demo.NetFlow5, true) }
func BenchmarkGoflow2ProduceNetFlowV9(b *testing.B) { benchmarkGoflow2(b, demo.NetFlow9, true) }
func BenchmarkGoflow2ProduceIPFIX(b *testing.B)     { benchmarkGoflow2(b, demo.IPFIX, true) }
func BenchmarkGoflow2ProduceSFlow(b *testing.B)     { benchmarkGoflow2(b, demo.SFlow5, true) }
