package collector

import (
	"fmt"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/internal/reporter"
)

// ExporterMetricsConfig bounds the per-exporter metrics (the
// `collector.exporter-metrics:` section). Exporter addresses are label
// values, so a flood of spoofed sources must not create series without end.
type ExporterMetricsConfig struct {
	// MaxExporters is how many exporters get series of their own; the
	// datagrams of any further exporter are counted under exporter="other"
	// (and in exporter_metrics_refused_total) until a slot frees up.
	MaxExporters int `yaml:"max-exporters"`
	// Idle is how long an exporter may stay silent before its series are
	// removed and its slot freed.
	Idle time.Duration `yaml:"idle"`
	// MaxDomainsPerExporter bounds the observation domains (sFlow
	// sub-agents) with a sampling-rate series per exporter; further ones
	// share observation_domain="other".
	MaxDomainsPerExporter int `yaml:"max-domains-per-exporter"`
}

// DefaultExporterMetricsConfig returns the defaults: 1000 exporters, idle
// after an hour, 16 observation domains each.
func DefaultExporterMetricsConfig() ExporterMetricsConfig {
	return ExporterMetricsConfig{MaxExporters: 1000, Idle: time.Hour, MaxDomainsPerExporter: 16}
}

func (c ExporterMetricsConfig) validate(check func(ok bool, key, format string, args ...any)) {
	check(c.MaxExporters >= 0, "exporter-metrics.max-exporters", "must not be negative, got %d", c.MaxExporters)
	check(c.Idle > 0, "exporter-metrics.idle", "must be positive, got %s", c.Idle)
	check(c.MaxDomainsPerExporter >= 1, "exporter-metrics.max-domains-per-exporter", "must be at least 1, got %d", c.MaxDomainsPerExporter)
}

// otherLabel is the exporter and observation_domain label value of what is
// beyond the bounds.
const otherLabel = "other"

// exporterMetrics are the per-exporter metric families, shared by the
// workers. The children of one exporter are resolved once, when its first
// datagram arrives, and cached in the worker's exporterStats.
type exporterMetrics struct {
	cfg ExporterMetricsConfig

	datagrams, flows, decodeErrors *prometheus.CounterVec
	templates, samplingRate        *prometheus.GaugeVec
	refused                        prometheus.Counter

	labelled atomic.Int64 // exporters with series of their own, all workers
}

func newExporterMetrics(reg prometheus.Registerer, cfg ExporterMetricsConfig) (*exporterMetrics, error) {
	f := reporter.NewMetrics(reg)
	m := &exporterMetrics{
		cfg:          cfg,
		datagrams:    f.CounterVec("exporter_datagrams_total", "Datagrams received, by exporter (UDP source address; \"other\" beyond exporter-metrics.max-exporters).", "exporter"),
		flows:        f.CounterVec("exporter_flows_total", "Flow records decoded, by exporter (UDP source address).", "exporter"),
		decodeErrors: f.CounterVec("exporter_decode_errors_total", "Datagrams not decoded in full, by exporter (UDP source address) and reason.", "exporter", "reason"),
		templates:    f.GaugeVec("exporter_templates", "NetFlow v9 and IPFIX templates the exporter has now (data and options).", "exporter"),
		samplingRate: f.GaugeVec("exporter_sampling_rate", "Sampling rate of the exporter's last record, by observation domain (sFlow sub-agent).", "exporter", "observation_domain"),
	}
	m.refused = f.Counter("exporter_metrics_refused_total", "Datagrams counted under exporter=\"other\" because exporter-metrics.max-exporters exporters already had series of their own.")
	f.GaugeFunc("exporter_metrics_exporters", "Exporters with series of their own (bounded by exporter-metrics.max-exporters).", func() float64 { return float64(m.labelled.Load()) })
	if err := f.Err(); err != nil {
		return nil, fmt.Errorf("register exporter metrics: %w", err)
	}
	return m, nil
}

// exporterStats is one exporter's resolved metric children, owned by the
// worker its datagrams go to.
type exporterStats struct {
	label     string // the exporter label value
	other     bool   // counts for every exporter beyond the bound
	lastSeen  int64  // Unix nanoseconds
	datagrams prometheus.Counter
	flows     prometheus.Counter
	templates prometheus.Gauge
	errors    []reasonCounter

	// Sampling rate gauges by observation domain; last* short-cut the
	// per-record check to two comparisons while nothing changes.
	domains              []domainRate
	lastDomain           uint32
	lastRate             uint64
	lastValid, domainCap bool
}

type reasonCounter struct {
	reason  string
	counter prometheus.Counter
}

type domainRate struct {
	domain uint32
	rate   uint64
	gauge  prometheus.Gauge
}

func (m *exporterMetrics) newStats(label string, other bool) *exporterStats {
	s := &exporterStats{label: label, other: other,
		datagrams: m.datagrams.WithLabelValues(label), flows: m.flows.WithLabelValues(label)}
	if !other {
		s.templates = m.templates.WithLabelValues(label)
	}
	return s
}

// decodeError returns the exporter's counter for reason; its children are
// few (the decoders' constant reasons) and cached.
func (s *exporterStats) decodeError(m *exporterMetrics, reason string) prometheus.Counter {
	for _, rc := range s.errors {
		if rc.reason == reason {
			return rc.counter
		}
	}
	c := m.decodeErrors.WithLabelValues(s.label, reason)
	s.errors = append(s.errors, reasonCounter{reason, c})
	return c
}

// observeRate records the sampling rate of one emitted record. While the
// exporter's domain and rate do not change it compares two numbers.
func (s *exporterStats) observeRate(m *exporterMetrics, domain uint32, rate uint64) {
	if s.other || (s.lastValid && domain == s.lastDomain && rate == s.lastRate) {
		return
	}
	s.lastDomain, s.lastRate, s.lastValid = domain, rate, true
	for i := range s.domains {
		d := &s.domains[i]
		if d.domain == domain {
			d.rate = rate
			d.gauge.Set(float64(rate))
			return
		}
	}
	if len(s.domains) >= m.cfg.MaxDomainsPerExporter {
		// Beyond the bound every further domain shares one series.
		if !s.domainCap {
			s.domainCap = true
			s.domains = append(s.domains, domainRate{domain: domain, gauge: m.samplingRate.WithLabelValues(s.label, otherLabel)})
		}
		last := &s.domains[len(s.domains)-1]
		last.domain, last.rate = domain, rate
		last.gauge.Set(float64(rate))
		return
	}
	d := domainRate{domain: domain, rate: rate, gauge: m.samplingRate.WithLabelValues(s.label, strconv.FormatUint(uint64(domain), 10))}
	d.gauge.Set(float64(rate))
	s.domains = append(s.domains, d) // below the bound, so "other" does not exist yet
}

// exporterTable is a worker's view of the per-exporter metrics: the
// exporters hashed to it, and its own "other" entry (so no two goroutines
// share an exporterStats).
type exporterTable struct {
	m         *exporterMetrics
	exporters map[netip.Addr]*exporterStats
	other     *exporterStats
	lastSweep int64
}

func newExporterTable(m *exporterMetrics) *exporterTable {
	return &exporterTable{m: m, exporters: make(map[netip.Addr]*exporterStats), other: m.newStats(otherLabel, true)}
}

// get returns the stats of the exporter at addr, giving it series of its
// own while fewer than MaxExporters have them. Refused exporters are not
// remembered, so a spoofed flood costs no memory.
func (t *exporterTable) get(addr netip.Addr, nowNanos int64) *exporterStats {
	if s, ok := t.exporters[addr]; ok {
		s.lastSeen = nowNanos
		return s
	}
	m := t.m
	for {
		n := m.labelled.Load()
		if n >= int64(m.cfg.MaxExporters) {
			m.refused.Inc()
			return t.other
		}
		if m.labelled.CompareAndSwap(n, n+1) {
			break
		}
	}
	s := m.newStats(addr.Unmap().String(), false)
	s.lastSeen = nowNanos
	t.exporters[addr] = s
	return s
}

// sweep removes the series of exporters silent for Idle, at most every
// Idle/4, and frees their slots.
func (t *exporterTable) sweep(nowNanos int64) {
	idle := int64(t.m.cfg.Idle)
	if nowNanos-t.lastSweep < idle/4 {
		return
	}
	t.lastSweep = nowNanos
	for addr, s := range t.exporters {
		if nowNanos-s.lastSeen < idle {
			continue
		}
		delete(t.exporters, addr)
		t.m.labelled.Add(-1)
		labels := prometheus.Labels{"exporter": s.label}
		t.m.datagrams.DeletePartialMatch(labels)
		t.m.flows.DeletePartialMatch(labels)
		t.m.decodeErrors.DeletePartialMatch(labels)
		t.m.templates.DeletePartialMatch(labels)
		t.m.samplingRate.DeletePartialMatch(labels)
	}
}
