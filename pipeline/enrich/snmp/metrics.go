package snmp

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Poll results (label "result" of polls_total).
const (
	resultOK      = "ok"
	resultEmpty   = "empty"   // answered, but no interface and no sysName
	resultTimeout = "timeout" // no answer: down, filtered, or a wrong v2c community
	resultRefused = "refused" // ICMP port unreachable: nothing listens
	resultAuth    = "auth"    // SNMPv3 user, passphrase or protocol refused
	resultError   = "error"   // anything else (malformed answer, …)
)

// Lookup miss reasons (label "reason" of misses_total).
const (
	missNotPolled        = "exporter_not_polled" // no successful poll of this exporter yet
	missUnknownInterface = "interface_unknown"   // polled, but the agent listed no such ifIndex
	missExporterLimit    = "exporter_limit"      // max-exporters reached
)

type metrics struct {
	polls         *prometheus.CounterVec
	pollDuration  prometheus.Histogram
	hits          prometheus.Counter
	misses        prometheus.Counter
	missReasons   map[string]prometheus.Counter
	nameHits      prometheus.Counter
	nameMisses    prometheus.Counter
	dropped       prometheus.Counter
	stateWrites   *prometheus.CounterVec
	expired       prometheus.Counter
	lookupsByKind *prometheus.CounterVec
}

func (p *Poller) registerMetrics() error {
	m, f := &p.metrics, p.r.Metrics()
	m.polls = f.CounterVec("polls_total", "SNMP polls of an exporter, by result: ok, empty (answered with nothing), timeout, refused, auth, error.", "result")
	for _, r := range []string{resultOK, resultEmpty, resultTimeout, resultRefused, resultAuth, resultError} {
		m.polls.WithLabelValues(r)
	}
	m.pollDuration = f.Histogram("poll_duration_seconds", "Time one poll of an exporter took (sysName and the interface tables), failed polls included.",
		[]float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30})
	m.lookupsByKind = f.CounterVec("lookups_total", "Lookups answered from the cache (hit) or not (miss): interface for Interface, name for ExporterName.", "kind", "result")
	m.hits = m.lookupsByKind.WithLabelValues("interface", "hit")
	m.misses = m.lookupsByKind.WithLabelValues("interface", "miss")
	m.nameHits = m.lookupsByKind.WithLabelValues("name", "hit")
	m.nameMisses = m.lookupsByKind.WithLabelValues("name", "miss")
	missVec := f.CounterVec("misses_total", "Interface lookups missed, by reason: exporter_not_polled, interface_unknown, exporter_limit.", "reason")
	m.missReasons = map[string]prometheus.Counter{}
	for _, r := range []string{missNotPolled, missUnknownInterface, missExporterLimit} {
		m.missReasons[r] = missVec.WithLabelValues(r)
	}
	m.dropped = f.Counter("poll_requests_dropped_total", "Polls a lookup miss asked for but that were dropped because the request queue was full.")
	m.stateWrites = f.CounterVec("state_writes_total", "Writes of the cache to the state directory, by result (ok, error).", "result")
	m.stateWrites.WithLabelValues("ok")
	m.stateWrites.WithLabelValues("error")
	m.expired = f.Counter("exporters_expired_total", "Exporters forgotten because no lookup asked about them for expire.")
	f.GaugeFunc("exporters", "Exporters known (cached or waiting for their first poll).", func() float64 { return float64(p.exporters.Load().n) })
	f.GaugeFunc("exporters_cached", "Exporters whose names are cached.", func() float64 { return float64(p.cachedExporters.Load()) })
	f.GaugeFunc("interfaces_cached", "Interfaces cached, all exporters together.", func() float64 { return float64(p.cachedInterfaces.Load()) })
	if err := f.Err(); err != nil {
		return fmt.Errorf("snmp: register metrics: %w", err)
	}
	return nil
}
