package collector

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/collector/netflow"
	"sluice/collector/templates"
	"sluice/internal/reporter"
)

// netflowCounters count what the NetFlow decoder reports per datagram.
// They are resolved once: the decode path does no label lookup.
type netflowCounters struct {
	optionsRecords        prometheus.Counter
	missingTemplateSets   prometheus.Counter
	headerCountMismatches prometheus.Counter
	reverseFlows          prometheus.Counter
	enterpriseFields      prometheus.Counter
	totalsEvicted         prometheus.Counter
	totalsOutOfOrder      prometheus.Counter

	dataSetsCut, dataSetsCorrupt, otherSetsCut, recordsCut prometheus.Counter
}

// registerNetFlowMetrics registers the NetFlow decoder's counters and the
// state of its template store, read from Stats at scrape time.
func registerNetFlowMetrics(reg prometheus.Registerer, d *netflow.Decoder) (*netflowCounters, error) {
	f := reporter.NewMetrics(reg)
	cut := f.CounterVec("netflow_sets_cut_total", "NetFlow v9 and IPFIX sets cut short (the datagram is also counted as truncated), by what was kept: "+
		"data_set (the set ran past the end of the datagram, inside its last record; its complete records were decoded), "+
		"data_set_corrupt (a data set's length ran past the end by more than a record: corrupt, dropped whole, the datagram counted as malformed), other_set (a template or options set ran past the end; dropped whole), "+
		"record (a variable-length value ran past the end of its set; the set's later records dropped).", "reason")
	c := &netflowCounters{
		dataSetsCut:           cut.WithLabelValues("data_set"),
		dataSetsCorrupt:       cut.WithLabelValues("data_set_corrupt"),
		otherSetsCut:          cut.WithLabelValues("other_set"),
		recordsCut:            cut.WithLabelValues("record"),
		optionsRecords:        f.Counter("netflow_options_records_total", "NetFlow v9 and IPFIX options data records read (sampling rates are learned from them)."),
		missingTemplateSets:   f.Counter("netflow_missing_template_sets_total", "NetFlow v9 and IPFIX data sets skipped because their template was unknown."),
		headerCountMismatches: f.Counter("netflow_header_count_mismatches_total", "NetFlow v9 datagrams whose header counts fewer records than the datagram has sets; every set is decoded anyway."),
		reverseFlows:          f.Counter("netflow_reverse_flows_total", "Reverse records made from IPFIX biflow records (RFC 5103) whose reverse direction counted traffic; included in flows_total."),
		enterpriseFields:      f.Counter("netflow_enterprise_fields_skipped_total", "Enterprise-specific field values of data records skipped (vendor fields sluice does not store; RFC 5103 reverse fields excepted)."),
		totalsEvicted: f.Counter("netflow_totals_evicted_total", "Flows reporting total counters (IE 85/86) whose previous total was dropped from the collector's table (65,536 entries) for another flow's while still live; "+
			"the flow's next total is stored whole, counting its earlier traffic again."),
		totalsOutOfOrder: f.Counter("netflow_totals_out_of_order_total", "Total counters (IE 85/86) lower than their flow's newest report: older reports arriving late, stored as 0 bytes and packets (the newer total holds their traffic)."),
	}
	store := d.Templates()
	gauge := func(name, help string, read func(templates.Stats) int) {
		f.GaugeFunc(name, help, func() float64 { return float64(read(store.Stats())) })
	}
	counter := func(name, help string, labels prometheus.Labels, read func(templates.Stats) uint64) {
		f.With(labels).CounterFunc(name, help, func() float64 { return float64(read(store.Stats())) })
	}
	const refusedHelp = "NetFlow v9 and IPFIX templates refused, by bound reached: exporter_limit (templates per exporter) or total_limit (template fields of all exporters); " +
		"refused only when every template held under that bound decodes data (others are evicted first)."
	gauge("template_store_exporters", "Exporters with NetFlow v9/IPFIX template or sampling state.",
		func(s templates.Stats) int { return s.Exporters })
	gauge("template_store_templates", "NetFlow v9 and IPFIX templates held, all exporters.",
		func(s templates.Stats) int { return s.Templates })
	gauge("template_store_template_fields", "Fields of the templates held, all exporters (bounded in total).",
		func(s templates.Stats) int { return s.TemplateFields })
	gauge("template_store_sampling_rates", "Sampling rates learned from options data, all exporters.",
		func(s templates.Stats) int { return s.SamplingRates })
	gauge("template_store_interfaces", "Interfaces whose names NetFlow v9/IPFIX options data announced (IE 82, 83), all exporters.",
		func(s templates.Stats) int { return s.Interfaces })
	counter("template_store_interfaces_refused_total", "Interface names not stored because a per-exporter or the total bound was reached.", nil,
		func(s templates.Stats) uint64 { return s.InterfacesRefused })
	counter("template_store_templates_refused_total", refusedHelp, prometheus.Labels{"reason": "exporter_limit"},
		func(s templates.Stats) uint64 { return s.TemplatesRefusedPerExporter })
	counter("template_store_templates_refused_total", refusedHelp, prometheus.Labels{"reason": "total_limit"},
		func(s templates.Stats) uint64 { return s.TemplatesRefusedTotal })
	const evictedHelp = "NetFlow v9 and IPFIX templates evicted to make room under a bound for a new template, by reason: never_used (it had never decoded a data record) or idle (it had decoded none for templates.template-idle)."
	counter("template_store_templates_evicted_total", evictedHelp, prometheus.Labels{"reason": templates.ReasonNeverUsed},
		func(s templates.Stats) uint64 { return s.TemplatesEvictedNeverUsed })
	counter("template_store_templates_evicted_total", evictedHelp, prometheus.Labels{"reason": templates.ReasonIdle},
		func(s templates.Stats) uint64 { return s.TemplatesEvictedIdle })
	counter("template_store_exporters_evicted_total", "Exporters whose template state was evicted to make room for a new exporter under templates.max-exporters: none of their templates had decoded data for templates.template-idle.", nil,
		func(s templates.Stats) uint64 { return s.ExportersEvicted })
	counter("template_store_templates_invalid_total", "Templates describing zero-length records (withdrawals included); they remove the template.", nil,
		func(s templates.Stats) uint64 { return s.TemplatesInvalid })
	counter("template_store_sampling_rates_refused_total", "Sampling rates not stored because a per-exporter or the total bound was reached.", nil,
		func(s templates.Stats) uint64 { return s.SamplingRatesRefused })
	counter("template_store_exporters_refused_total", "Templates or sampling rates of new exporters refused because the store held its maximum of exporters, every one decoding data (others are evicted first).", nil,
		func(s templates.Stats) uint64 { return s.ExportersRefused })
	counter("template_store_exporters_expired_total", "Exporters whose state was removed after a long enough time without a datagram.", nil,
		func(s templates.Stats) uint64 { return s.ExportersExpired })
	if err := f.Err(); err != nil {
		return nil, fmt.Errorf("register decoder metrics: %w", err)
	}
	return c, nil
}

// sflowCounters count what the sFlow decoder reports per datagram, resolved
// once.
type sflowCounters struct {
	flowSamples, counterSamples, dropSamples prometheus.Counter

	headersUnknownProtocol, headersNonIP, headersTruncated prometheus.Counter

	decapsulatedVXLAN, decapsulatedGRE prometheus.Counter
}

func registerSFlowMetrics(reg prometheus.Registerer) (*sflowCounters, error) {
	f := reporter.NewMetrics(reg)
	samples := f.CounterVec("sflow_samples_total", "sFlow samples read, by type: flow samples become flow records, counter samples interface counter records, drop samples are not stored.", "type")
	skipped := f.CounterVec("sflow_headers_skipped_total", "Sampled packet headers not parsed down to IP, by reason: unknown_protocol (not Ethernet, IPv4 nor IPv6), non_ip (ARP, LLDP…), truncated.", "reason")
	decapsulated := f.CounterVec("sflow_decapsulated_total", "Sampled headers recorded as the inner packet of a tunnel (collector.sflow.decapsulate), by tunnel: vxlan, gre.", "protocol")
	c := &sflowCounters{
		decapsulatedVXLAN:      decapsulated.WithLabelValues("vxlan"),
		decapsulatedGRE:        decapsulated.WithLabelValues("gre"),
		flowSamples:            samples.WithLabelValues("flow"),
		counterSamples:         samples.WithLabelValues("counter"),
		dropSamples:            samples.WithLabelValues("drop"),
		headersUnknownProtocol: skipped.WithLabelValues("unknown_protocol"),
		headersNonIP:           skipped.WithLabelValues("non_ip"),
		headersTruncated:       skipped.WithLabelValues("truncated"),
	}
	if err := f.Err(); err != nil {
		return nil, fmt.Errorf("register decoder metrics: %w", err)
	}
	return c, nil
}

// add counts n, skipping the atomic operation for the usual 0.
func add(c prometheus.Counter, n int) {
	if n > 0 {
		c.Add(float64(n))
	}
}
