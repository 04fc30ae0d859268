package collector

import (
	"sluice/collector/netflow"
	"sluice/collector/sflow"
	"sluice/pipeline/record"
)

// flowDecoder is one protocol decoder as the workers see it.
type flowDecoder interface {
	decode(exporter record.Addr, receivedNanos int64, payload []byte, emit func(*record.Flow)) error
}

// netflowDecoder decodes NetFlow v5, v9 and IPFIX.
type netflowDecoder struct {
	d *netflow.Decoder
	m *metrics
}

func newNetFlowDecoder(cfg Config, m *metrics) *netflowDecoder {
	nc := netflow.DefaultConfig()
	nc.DefaultSamplingRate = cfg.DefaultSamplingRate
	return &netflowDecoder{d: netflow.New(nc), m: m}
}

func (n *netflowDecoder) decode(exporter record.Addr, receivedNanos int64, payload []byte, emit func(*record.Flow)) error {
	stats, err := n.d.Decode(exporter, receivedNanos, payload, emit)
	if stats.Templates > 0 {
		n.m.templates.Add(float64(stats.Templates))
	}
	if stats.SamplingDefaulted > 0 {
		n.m.samplingDefaulted.Add(float64(stats.SamplingDefaulted))
	}
	if err != nil {
		return reasonError{reason: netflow.Reason(err), err: err}
	}
	return nil
}

// sflowDecoder decodes sFlow v5.
type sflowDecoder struct {
	d *sflow.Decoder
	m *metrics
}

func newSFlowDecoder(cfg Config, m *metrics) *sflowDecoder {
	sc := sflow.DefaultConfig()
	return &sflowDecoder{d: sflow.New(sc), m: m}
}

func (s *sflowDecoder) decode(exporter record.Addr, receivedNanos int64, payload []byte, emit func(*record.Flow)) error {
	_, err := s.d.Decode(exporter, receivedNanos, payload, emit)
	if err != nil {
		return reasonError{reason: sflow.Reason(err), err: err}
	}
	return nil
}

// reasonError carries a decoder's metric reason to the worker.
type reasonError struct {
	reason string
	err    error
}

func (e reasonError) Error() string       { return e.err.Error() }
func (e reasonError) Unwrap() error       { return e.err }
func (e reasonError) ErrorReason() string { return e.reason }
