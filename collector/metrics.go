package collector

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/collector/udp"
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
	datagrams := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "datagrams_total", Help: "Datagrams received, by protocol (netflow covers v5, v9 and IPFIX).",
	}, []string{"protocol"})
	flows := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flows_total", Help: "Flow records decoded, by protocol.",
	}, []string{"protocol"})
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dropped_total", Help: "Datagrams (queue_full: a worker's queue was full; not_allowed: the source is not in allowed-exporters) or records (shutdown: the next stage did not take them before the stop deadline) dropped by the collector.",
	}, []string{"reason"})
	m := metrics{
		decodeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "decode_errors_total", Help: "Datagrams that could not be decoded, in full or in part, by protocol and reason.",
		}, []string{"protocol", "reason"}),
		readErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "read_errors_total", Help: "UDP socket read errors.",
		}),
		templates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "templates_total", Help: "NetFlow v9 and IPFIX template records received (data and options).",
		}),
		samplingDefaulted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sampling_rate_unknown_flows_total", Help: "Flows stored with the default sampling rate because the exporter announced none.",
		}),
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
	for _, c := range []prometheus.Collector{datagrams, flows, dropped, m.decodeErrors, m.readErrors, m.templates, m.samplingDefaulted} {
		if err := reg.Register(c); err != nil {
			return metrics{}, fmt.Errorf("register collector metrics: %w", err)
		}
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
	labels := prometheus.Labels{"listen": l.Addr().String()}
	port := l.Port()
	drops := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "socket_drops_total", Help: "Datagrams the kernel dropped on this port because the receive buffer was full (/proc/net/udp).",
		ConstLabels: labels,
	}, func() float64 { return float64(udp.KernelDrops(port)) })
	buffer := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "socket_receive_buffer_bytes", Help: "Receive buffer the kernel granted per socket (Linux reports twice the request).",
		ConstLabels: labels,
	}, func() float64 { return float64(l.ReceiveBuffer()) })
	for _, c := range []prometheus.Collector{drops, buffer} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register metrics of %s: %w", l.Addr(), err)
		}
	}
	return nil
}
