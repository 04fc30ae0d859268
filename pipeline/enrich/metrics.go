package enrich

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	records       prometheus.Counter
	dropped       *prometheus.CounterVec
	ruleMatches   *prometheus.CounterVec
	ruleErrors    *prometheus.CounterVec
	networks      prometheus.Gauge
	reloads       *prometheus.CounterVec
	exporterMiss  prometheus.Counter
	interfaceMiss *prometheus.CounterVec
	// hit and miss counters per source, resolved once: the per-record
	// path only adds to them.
	netHit, netMiss     prometheus.Counter
	inMiss, outMiss     prometheus.Counter
	cacheHit, cacheMiss prometheus.Counter
}

func (e *Enricher) registerMetrics() error {
	m, f := &e.m, e.r.Metrics()
	m.records = f.Counter("records_total", "Records enriched.")
	m.dropped = f.CounterVec("dropped_total", "Records dropped by a rule, by rule.", "rule")
	m.ruleMatches = f.CounterVec("rule_matches_total", "Records a rule applied to, by rule.", "rule")
	m.ruleErrors = f.CounterVec("rule_errors_total", "Rule conditions that failed to evaluate (the rule is skipped for that record), by rule.", "rule")
	m.networks = f.Gauge("networks", "Prefixes in the networks table.")
	m.reloads = f.CounterVec("reloads_total", "Reloads of the networks file, by result (ok, failed: the previous table stays).", "result")
	m.exporterMiss = f.Counter("exporter_name_misses_total", "Records whose exporter has no configured name and no SNMP sysName (yet).")
	m.interfaceMiss = f.CounterVec("interface_misses_total", "Interfaces of records left without a name: no configuration, no options template, no SNMP answer (yet), by side.", "side")
	networkLookups := f.CounterVec("network_lookups_total", "Address lookups in the networks table, by result.", "result")
	m.netHit, m.netMiss = networkLookups.WithLabelValues("hit"), networkLookups.WithLabelValues("miss")
	m.inMiss, m.outMiss = m.interfaceMiss.WithLabelValues("in"), m.interfaceMiss.WithLabelValues("out")
	addressLookups := f.CounterVec("address_cache_lookups_total", "Addresses looked up in the cache of network, own-network, threat and GeoIP answers, by result (hit, miss: the tables were searched).", "result")
	m.cacheHit, m.cacheMiss = addressLookups.WithLabelValues("hit"), addressLookups.WithLabelValues("miss")
	m.reloads.WithLabelValues("ok")
	m.reloads.WithLabelValues("failed")
	if err := f.Err(); err != nil {
		return fmt.Errorf("enrich: register metrics: %w", err)
	}
	return nil
}
