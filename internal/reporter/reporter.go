// Package reporter bundles what every sluice component needs to say what it
// is doing: a structured logger (log/slog) tagged with the component's name,
// a Prometheus registerer whose metric names carry the component's prefix,
// and a rate limiter for per-record or per-datagram errors, so that a flood
// of bad input is counted in full but logged only a few times a second.
package reporter

import (
	"log/slog"
	"runtime"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Reporter is handed to each component's constructor.
type Reporter struct {
	*slog.Logger
	root       *slog.Logger // the logger of New, before any module tag
	registry   *prometheus.Registry
	rootReg    prometheus.Registerer // "sluice_" only
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
	reg := prometheus.WrapRegistererWithPrefix("sluice_", registry)
	return &Reporter{
		Logger:     logger,
		root:       logger,
		registry:   registry,
		rootReg:    reg,
		registerer: reg,
	}
}

// modulePath is the Go module every package path starts with.
const modulePath = "sluice/"

// Package returns the reporter of the calling package, whatever reporter
// it is called on: its module is the package's path inside the module
// (sluice/pipeline/kafka → pipeline/kafka, metrics sluice_pipeline_kafka_…).
// A component's constructor calls it first, so metric names follow the
// tree and no caller types a prefix that could drift from it.
func (r *Reporter) Package() *Reporter {
	pc, _, _, ok := runtime.Caller(1)
	fn := runtime.FuncForPC(pc)
	if !ok || fn == nil {
		return r
	}
	pkg := packageOf(fn.Name())
	if !strings.HasPrefix(pkg, modulePath) {
		return r // a test binary's package main, say: keep the caller's
	}
	root := &Reporter{Logger: r.root, root: r.root, registry: r.registry, rootReg: r.rootReg, registerer: r.rootReg}
	return root.Sub(strings.TrimPrefix(pkg, modulePath))
}

// packageOf cuts a function's full name (sluice/pipeline/kafka.(*Group).Run,
// sluice/collector.New.func1) down to its package path.
func packageOf(funcName string) string {
	slash := strings.LastIndexByte(funcName, '/')
	if dot := strings.IndexByte(funcName[slash+1:], '.'); dot >= 0 {
		return funcName[:slash+1+dot]
	}
	return funcName
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
		root:       r.root,
		registry:   r.registry,
		rootReg:    r.rootReg,
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
