package reporter

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics declares a component's metrics in a few lines: each method builds
// one collector, registers it under the reporter's prefix and returns it.
// The first registration error (a duplicate name, say) is kept rather than
// panicking, and the constructor checks it once, with Err, after its last
// declaration; after an error, the collectors returned are still usable but
// unregistered.
//
//	m := r.Metrics()
//	received := m.Counter("records_received_total", "Records taken from the queue.")
//	dropped := m.CounterVec("dropped_total", "Records dropped, by reason.", "reason")
//	if err := m.Err(); err != nil { … }
type Metrics struct {
	reg         prometheus.Registerer
	constLabels prometheus.Labels
	err         *error // shared with the factories made by With
}

// Metrics returns a factory that registers under this reporter's prefix.
func (r *Reporter) Metrics() *Metrics { return NewMetrics(r.registerer) }

// NewMetrics returns a factory over any registerer, for components that are
// handed one rather than a reporter.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	return &Metrics{reg: reg, err: new(error)}
}

// With returns a factory whose metrics carry constant labels as well; it
// shares the error of m.
func (m *Metrics) With(labels prometheus.Labels) *Metrics {
	merged := prometheus.Labels{}
	for k, v := range m.constLabels {
		merged[k] = v
	}
	for k, v := range labels {
		merged[k] = v
	}
	return &Metrics{reg: m.reg, constLabels: merged, err: m.err}
}

// Err is the first registration error, naming the metric, or nil.
func (m *Metrics) Err() error { return *m.err }

func (m *Metrics) register(name string, c prometheus.Collector) {
	if *m.err != nil {
		return
	}
	if err := m.reg.Register(c); err != nil {
		var already prometheus.AlreadyRegisteredError
		if errors.As(err, &already) {
			err = fmt.Errorf("metric %s registered twice: %w", name, err)
		} else {
			err = fmt.Errorf("metric %s: %w", name, err)
		}
		*m.err = err
	}
}

func (m *Metrics) counterOpts(name, help string) prometheus.CounterOpts {
	return prometheus.CounterOpts{Name: name, Help: help, ConstLabels: m.constLabels}
}

func (m *Metrics) gaugeOpts(name, help string) prometheus.GaugeOpts {
	return prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: m.constLabels}
}

// Counter registers a counter.
func (m *Metrics) Counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(m.counterOpts(name, help))
	m.register(name, c)
	return c
}

// CounterVec registers a counter with variable labels.
func (m *Metrics) CounterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(m.counterOpts(name, help), labels)
	m.register(name, c)
	return c
}

// CounterFunc registers a counter read from read at scrape time.
func (m *Metrics) CounterFunc(name, help string, read func() float64) {
	m.register(name, prometheus.NewCounterFunc(m.counterOpts(name, help), read))
}

// Gauge registers a gauge.
func (m *Metrics) Gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(m.gaugeOpts(name, help))
	m.register(name, g)
	return g
}

// GaugeVec registers a gauge with variable labels.
func (m *Metrics) GaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(m.gaugeOpts(name, help), labels)
	m.register(name, g)
	return g
}

// GaugeFunc registers a gauge read from read at scrape time.
func (m *Metrics) GaugeFunc(name, help string, read func() float64) {
	m.register(name, prometheus.NewGaugeFunc(m.gaugeOpts(name, help), read))
}

// Histogram registers a histogram with the given buckets.
func (m *Metrics) Histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, ConstLabels: m.constLabels, Buckets: buckets})
	m.register(name, h)
	return h
}

// HistogramVec registers a histogram with variable labels.
func (m *Metrics) HistogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, ConstLabels: m.constLabels, Buckets: buckets}, labels)
	m.register(name, h)
	return h
}
