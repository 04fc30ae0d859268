package collector

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/collector/udp"
	"sluice/internal/reporter"
)

type protocolCounters struct {
	name      string
	datagrams prometheus.Counter
	flows     prometheus.Counter
}

// metrics are resolved once, so the per-record path does no label lookup.
type metrics struct {
	netflow, sflow, unknown protocolCounters

	decodeErrors      *prometheus.CounterVec
	droppedQueueFull  prometheus.Counter
	droppedShutdown   prometheus.Counter
	droppedNotAllowed prometheus.Counter
	readErrors        prometheus.Counter

	templates         prometheus.Counter
	samplingDefaulted prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (metrics, error) {
	f := reporter.NewMetrics(reg)
	datagrams := f.CounterVec("datagrams_total", "Datagrams received, by protocol (netflow covers v5, v9 and IPFIX).", "protocol")
	flows := f.CounterVec("flows_total", "Flow records decoded, by protocol.", "protocol")
	dropped := f.CounterVec("dropped_total", "Datagrams (queue_full: a worker's queue was full; not_allowed: the source is not in allowed-exporters) or records (shutdown: the next stage did not take them before the stop deadline) dropped by the collector.", "reason")
	m := metrics{
		decodeErrors:      f.CounterVec("decode_errors_total", "Datagrams that could not be decoded, in full or in part, by protocol and reason.", "protocol", "reason"),
		readErrors:        f.Counter("read_errors_total", "UDP socket read errors."),
		templates:         f.Counter("templates_total", "NetFlow v9 and IPFIX template records received (data and options)."),
		samplingDefaulted: f.Counter("sampling_rate_unknown_flows_total", "Flows stored with the default sampling rate because the exporter announced none."),
	}
	for _, p := range []struct {
		c    *protocolCounters
		name string
	}{{&m.netflow, "netflow"}, {&m.sflow, "sflow"}, {&m.unknown, "unknown"}} {
		*p.c = protocolCounters{name: p.name, datagrams: datagrams.WithLabelValues(p.name), flows: flows.WithLabelValues(p.name)}
	}
	m.droppedQueueFull = dropped.WithLabelValues("queue_full")
	m.droppedShutdown = dropped.WithLabelValues("shutdown")
	m.droppedNotAllowed = dropped.WithLabelValues("not_allowed")
	if err := f.Err(); err != nil {
		return metrics{}, fmt.Errorf("register collector metrics: %w", err)
	}
	return m, nil
}

// decodeError is on the error path only, where a label lookup is fine.
func (m *metrics) decodeError(protocol, reason string) prometheus.Counter {
	return m.decodeErrors.WithLabelValues(protocol, reason)
}

// registerListener exposes the kernel's view of one bound address: the
// receive buffer it granted and the datagrams it dropped for lack of room.
func (m *metrics) registerListener(reg prometheus.Registerer, l *udp.Listener) error {
	f := reporter.NewMetrics(reg).With(prometheus.Labels{"listen": l.Addr().String()})
	port := l.Port()
	f.CounterFunc("socket_drops_total", "Datagrams the kernel dropped on this port because the receive buffer was full (/proc/net/udp).",
		func() float64 { return float64(udp.KernelDrops(port)) })
	f.GaugeFunc("socket_receive_buffer_bytes", "Receive buffer the kernel granted per socket (Linux reports twice the request).",
		func() float64 { return float64(l.ReceiveBuffer()) })
	if err := f.Err(); err != nil {
		return fmt.Errorf("register metrics of %s: %w", l.Addr(), err)
	}
	return nil
}
