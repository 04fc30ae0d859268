package demo

import (
	"testing"
	"time"
)

// benchFlows draws n flows of one protocol from the traffic model.
func benchFlows(b *testing.B, protocol string, n int) []Flow {
	cfg := DefaultConfig()
	cfg.Protocols = []string{protocol}
	cfg.Exporters = 1
	caps, _ := generate(b, cfg, testStart, []int{n}, time.Second)
	var flows []Flow
	for _, d := range caps {
		flows = append(flows, d.flows...)
	}
	return flows[:n]
}

// BenchmarkEncode measures the encoders alone: one datagram's worth of flows per iteration,
// into a reused buffer.
func BenchmarkEncode(b *testing.B) {
	boot := testStart.Add(-24 * time.Hour)
	encoders := []struct {
		protocol string
		flows    int
		encode   func(dst []byte, flows []Flow) []byte
	}{
		{NetFlow5, 30, func(dst []byte, flows []Flow) []byte {
			return AppendNetFlow5(dst, NetFlow5Header{Boot: boot, ExportTime: testStart}, flows)
		}},
		{NetFlow9, 12, func(dst []byte, flows []Flow) []byte {
			return AppendNetFlow9(dst, NetFlow9Header{Boot: boot, ExportTime: testStart}, false, flows)
		}},
		{IPFIX, 12, func(dst []byte, flows []Flow) []byte {
			return AppendIPFIX(dst, IPFIXHeader{ExportTime: testStart}, false, flows)
		}},
		{SFlow5, 4, func(dst []byte, flows []Flow) []byte {
			return AppendSFlow5(dst, SFlow5Header{Agent: exporterAddress(0), Boot: boot, ExportTime: testStart}, flows)
		}},
	}
	for _, e := range encoders {
		b.Run(e.protocol, func(b *testing.B) {
			flows := benchFlows(b, e.protocol, e.flows)
			buf := e.encode(nil, flows)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				buf = e.encode(buf[:0], flows)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(flows)), "ns/flow")
		})
	}
}

// BenchmarkGenerate measures the whole generator, traffic model included, per protocol.
func BenchmarkGenerate(b *testing.B) {
	for _, p := range protocolNames {
		b.Run(p, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.Protocols = []string{p}
			g, err := NewGenerator(cfg, testStart)
			if err != nil {
				b.Fatal(err)
			}
			discard := func(*Datagram) error { return nil }
			const perCall = 1000
			now := testStart
			b.ReportAllocs()
			for b.Loop() {
				now = now.Add(time.Second)
				_ = g.Generate(now, perCall, discard)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perCall), "ns/flow")
			b.ReportMetric(float64(testing.AllocsPerRun(10, func() { _ = g.Generate(now, perCall, discard) }))/perCall, "allocs/flow")
		})
	}
}
