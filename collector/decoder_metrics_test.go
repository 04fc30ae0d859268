package collector

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"path/filepath"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"sluice/internal/pcap"
	"sluice/internal/reporter"
	"sluice/internal/testenv"
	"sluice/pipeline/record"
)

// gathered returns every sample of the registry as "name{label=value}" →
// value, the label being the first one if any.
func gathered(t *testing.T, r *reporter.Reporter) map[string]float64 {
	t.Helper()
	families, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			if len(m.GetLabel()) > 0 {
				key += "{" + m.GetLabel()[0].GetName() + "=" + m.GetLabel()[0].GetValue() + "}"
			}
			out[key] = value(m)
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	if m.GetCounter() != nil {
		return m.GetCounter().GetValue()
	}
	return m.GetGauge().GetValue()
}

// decodeCorpus feeds the datagrams of corpus captures to a decoder, each
// through mutate when not nil.
func decodeCorpus(t *testing.T, dec flowDecoder, mutate func([]byte), files ...string) {
	t.Helper()
	for _, file := range files {
		datagrams, _, err := pcap.ReadFile(filepath.Join(testenv.CorpusDir(t), file))
		if err != nil {
			t.Fatal(err)
		}
		for _, dg := range datagrams {
			payload := bytes.Clone(dg.Payload)
			if mutate != nil {
				mutate(payload)
			}
			dec.decode(record.AddrFromSlice(dg.Src.AsSlice()), 1, payload, &record.Emitter{Emit: func(*record.Flow) {}}, nil)
		}
	}
}

// TestDecoderMetrics: what the decoders report per datagram, and the
// template store's state, are exported.
func TestDecoderMetrics(t *testing.T) {
	r := reporter.New(slog.New(slog.DiscardHandler))
	c := r.Sub("collector")
	m, err := newMetrics(c.Registerer())
	if err != nil {
		t.Fatal(err)
	}
	nf, err := newNetFlowDecoder(DefaultConfig(), nil, &m, c.Registerer())
	if err != nil {
		t.Fatal(err)
	}
	sf, err := newSFlowDecoder(DefaultConfig(), nil, &m, c.Registerer())
	if err != nil {
		t.Fatal(err)
	}
	decodeCorpus(t, nf, nil, "logstash__nf9-invalid01.pcap", "akvorado__nfv9-data+templates.pcap")
	decodeCorpus(t, sf, nil, "lssflow__lag-counters.pcap", "telegraf__sflow-drop-1036.pcap")
	// The compact flow sample of sflow-icmpv6 with its rate set to 0.
	decodeCorpus(t, sf, func(p []byte) { binary.BigEndian.PutUint32(p[44:], 0) }, "akvorado__sflow-icmpv6.pcap")

	got := gathered(t, r)
	const p = "sluice_collector_"
	want := map[string]float64{
		p + "netflow_options_records_total":         2,
		p + "netflow_missing_template_sets_total":   1,
		p + "netflow_header_count_mismatches_total": 1,
		p + "template_store_exporters":              2,
		p + "sflow_samples_total{type=flow}":        6,
		p + "sflow_samples_total{type=counter}":     2,
		p + "sflow_samples_total{type=drop}":        1,
		p + "sampling_rate_unknown_flows_total":     1,
	}
	for name, v := range want {
		if got[name] != v {
			t.Errorf("%s = %v, want %v", name, got[name], v)
		}
	}
	for _, name := range []string{
		"template_store_templates", "template_store_template_fields", "template_store_sampling_rates",
		"template_store_templates_refused_total{reason=exporter_limit}", "template_store_templates_refused_total{reason=total_limit}",
		"template_store_templates_invalid_total", "template_store_sampling_rates_refused_total",
		"template_store_exporters_refused_total", "template_store_exporters_expired_total",
		"sflow_headers_skipped_total{reason=unknown_protocol}", "sflow_headers_skipped_total{reason=non_ip}",
		"sflow_headers_skipped_total{reason=truncated}",
	} {
		if _, ok := got[p+name]; !ok {
			t.Errorf("%s not exported", p+name)
		}
	}
	if got[p+"template_store_templates"] == 0 {
		t.Error("no template counted as held")
	}
}
