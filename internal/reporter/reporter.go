// Package reporter bundles what every sluice component needs to say what it
// is doing: a structured logger (log/slog) tagged with the component's name,
// a Prometheus registerer whose metric names carry the component's prefix,
// and a rate limiter for per-record or per-datagram errors, so that a flood
// of bad input is counted in full but logged only a few times a second.
package reporter

import (
	"log/slog"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Reporter is handed to each component's constructor.
type Reporter struct {
	*slog.Logger
	registry   *prometheus.Registry
	registerer prometheus.Registerer
	module     string
}

// New returns the root reporter. It owns a fresh Prometheus registry with the
// Go and process collectors, served by Handler.
func New(logger *slog.Logger) *Reporter {
	registry := prometheus.NewRegistry()
	registry.MustRegister(
		prometheus.NewGoCollector(),
		prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}),
	)
	return &Reporter{
		Logger:     logger,
		registry:   registry,
		registerer: prometheus.WrapRegistererWithPrefix("sluice_", registry),
	}
}

// Sub returns the reporter of a sub-component: its log lines carry
// module=<path> and its metric names are prefixed with the path, with
// "/" turned into "_" (collector/udp → sluice_collector_udp_…).
func (r *Reporter) Sub(name string) *Reporter {
	module := name
	if r.module != "" {
		module = r.module + "/" + name
	}
	prefix := strings.NewReplacer("/", "_", "-", "_", ".", "_").Replace(name) + "_"
	return &Reporter{
		Logger:     r.Logger.With("module", module),
		registry:   r.registry,
		registerer: prometheus.WrapRegistererWithPrefix(prefix, r.registerer),
		module:     module,
	}
}

// Registerer registers this component's metrics under its prefix.
func (r *Reporter) Registerer() prometheus.Registerer { return r.registerer }

// Gatherer exposes every metric registered through this reporter tree.
func (r *Reporter) Gatherer() prometheus.Gatherer { return r.registry }

// Module is the component path used in log lines.
func (r *Reporter) Module() string { return r.module }
