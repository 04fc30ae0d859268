package collector

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/collector/netflow"
	"sluice/collector/sampling"
	"sluice/collector/sflow"
	"sluice/pipeline/record"
)

// flowDecoder is one protocol decoder as the workers see it. Its errors
// are *decodeerr.Error, whose ErrorReason method gives the metric label.
// templates is how many template records the datagram carried, so that the
// worker refreshes the exporter's template gauge only then.
// The flow records are decoded straight into out (the worker's batch).
// emitCounter, when not nil, receives sFlow counter samples.
type flowDecoder interface {
	decode(exporter record.Addr, receivedNanos int64, payload []byte, out record.Appender, emitCounter func(*record.Counter)) (templates int, err error)
}

// netflowDecoder decodes NetFlow v5, v9 and IPFIX.
type netflowDecoder struct {
	d *netflow.Decoder
	m *metrics
	c *netflowCounters
}

// newNetFlowDecoder builds the NetFlow decoder and registers its metrics
// (decoder_metrics.go) with reg.
func newNetFlowDecoder(cfg Config, overrides *sampling.Overrides, m *metrics, reg prometheus.Registerer) (*netflowDecoder, error) {
	nc := netflow.DefaultConfig()
	nc.DefaultSamplingRate = cfg.Sampling.Default
	nc.SamplingOverrides = overrides
	nc.Templates = cfg.Templates
	d := netflow.New(nc)
	c, err := registerNetFlowMetrics(reg, d)
	if err != nil {
		return nil, err
	}
	return &netflowDecoder{d: d, m: m, c: c}, nil
}

func (n *netflowDecoder) decode(exporter record.Addr, receivedNanos int64, payload []byte, out record.Appender, _ func(*record.Counter)) (int, error) {
	stats, err := n.d.DecodeInto(exporter, receivedNanos, payload, out)
	add(n.m.templates, stats.Templates)
	add(n.m.samplingDefaulted, stats.SamplingDefaulted)
	add(n.c.optionsRecords, stats.OptionsRecords)
	add(n.c.missingTemplateSets, stats.MissingTemplateSets)
	add(n.c.headerCountMismatches, stats.HeaderCountMismatch)
	add(n.c.reverseFlows, stats.ReverseFlows)
	add(n.c.enterpriseFields, stats.EnterpriseFields)
	add(n.c.totalsEvicted, stats.TotalsEvicted)
	add(n.c.totalsOutOfOrder, stats.TotalsOutOfOrder)
	add(n.c.dataSetsCut, stats.DataSetsCut)
	add(n.c.dataSetsCorrupt, stats.DataSetsCorrupt)
	add(n.c.otherSetsCut, stats.OtherSetsCut)
	add(n.c.recordsCut, stats.RecordsCut)
	return stats.Templates, err
}

// sflowDecoder decodes sFlow v5.
type sflowDecoder struct {
	d *sflow.Decoder
	m *metrics
	c *sflowCounters
}

// newSFlowDecoder builds the sFlow decoder and registers its metrics
// (decoder_metrics.go) with reg.
func newSFlowDecoder(cfg Config, overrides *sampling.Overrides, m *metrics, reg prometheus.Registerer) (*sflowDecoder, error) {
	sc := sflow.DefaultConfig()
	sc.DefaultSamplingRate = cfg.Sampling.Default
	sc.SamplingOverrides = overrides
	decap, err := sflow.ParseDecapsulation(cfg.SFlow.Decapsulate)
	if err != nil {
		return nil, fmt.Errorf("sflow.decapsulate: %w", err)
	}
	sc.Decapsulate = decap
	c, err := registerSFlowMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &sflowDecoder{d: sflow.New(sc), m: m, c: c}, nil
}

func (s *sflowDecoder) decode(exporter record.Addr, receivedNanos int64, payload []byte, out record.Appender, emitCounter func(*record.Counter)) (int, error) {
	stats, err := s.d.DecodeInto(exporter, receivedNanos, payload, out, emitCounter)
	add(s.m.samplingDefaulted, stats.SamplingDefaulted)
	add(s.c.flowSamples, stats.FlowSamples)
	add(s.c.counterSamples, stats.CounterSamples)
	add(s.c.dropSamples, stats.DropSamples)
	add(s.c.headersUnknownProtocol, stats.HeadersUnknownProtocol)
	add(s.c.headersNonIP, stats.HeadersNonIP)
	add(s.c.headersTruncated, stats.HeadersTruncated)
	add(s.c.decapsulatedVXLAN, stats.DecapsulatedVXLAN)
	add(s.c.decapsulatedGRE, stats.DecapsulatedGRE)
	return 0, err
}
