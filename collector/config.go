package collector

import (
	"errors"
	"fmt"
	"runtime"
	"time"

	"sluice/collector/sampling"
	"sluice/collector/sflow"
	"sluice/collector/templates"
	"sluice/collector/udp"
)

// Config is the collector's configuration (the `collector:` section).
type Config struct {
	// NetFlow lists the UDP inputs for NetFlow v5, v9 and IPFIX. Every input
	// also accepts sFlow: datagrams are told apart by their version field.
	NetFlow InputConfig `yaml:"netflow"`
	// SFlow lists the UDP inputs for sFlow v5 (and, likewise, NetFlow),
	// and how sampled headers are read.
	SFlow SFlowConfig `yaml:"sflow"`
	// Workers decode datagrams; each exporter always goes to the same worker,
	// so its templates and data are handled in arrival order.
	Workers int `yaml:"workers"`
	// WorkerQueue is how many datagrams may wait for each worker; beyond that
	// datagrams are dropped and counted (reason "queue_full").
	WorkerQueue int `yaml:"worker-queue"`
	// BatchSize is how many records a worker gathers before handing them on.
	BatchSize int `yaml:"batch-size"`
	// FlushInterval bounds how long a partial batch waits.
	FlushInterval time.Duration `yaml:"flush-interval"`
	// Sampling sets the rate of flows whose exporter announces none
	// (default) and forces it for exporters by prefix (overrides).
	Sampling sampling.Config `yaml:"sampling"`
	// AllowedExporters lists the prefixes (or addresses) datagrams are
	// accepted from; empty accepts every source. Datagrams from elsewhere
	// are dropped before decoding and counted (reason "not_allowed").
	AllowedExporters []string `yaml:"allowed-exporters"`
	// Templates bounds the NetFlow v9/IPFIX template and sampling state.
	Templates templates.Config `yaml:"templates"`
	// ExporterMetrics bounds the series of the per-exporter metrics.
	ExporterMetrics ExporterMetricsConfig `yaml:"exporter-metrics"`

	// StateDir is where the template and sampling state is kept between
	// runs (StateFile inside it); empty keeps it in memory only. Not a
	// configuration key: the command sets it under the data directory.
	StateDir string `yaml:"-"`
}

// InputConfig is a set of listen addresses sharing socket settings.
type InputConfig struct {
	// Listen holds addresses such as ":2055" or "127.0.0.1:6343".
	Listen []string `yaml:"listen"`
	// Sockets per address (SO_REUSEPORT).
	Sockets int `yaml:"sockets"`
	// ReceiveBuffer is SO_RCVBUF per socket in bytes.
	ReceiveBuffer int `yaml:"receive-buffer"`
}

// SFlowConfig is the `collector.sflow:` section: its inputs, and the
// tunnels whose inner packet a sampled header's record describes.
type SFlowConfig struct {
	// Listen, Sockets and ReceiveBuffer are as in InputConfig.
	Listen        []string `yaml:"listen"`
	Sockets       int      `yaml:"sockets"`
	ReceiveBuffer int      `yaml:"receive-buffer"`
	// Decapsulate lists the tunnels to read through: "vxlan" (UDP 4789),
	// "gre" (IP protocol 47). Empty (the default) records the outer packet.
	Decapsulate []string `yaml:"decapsulate"`
}

// Input returns the section's socket settings.
func (c SFlowConfig) Input() InputConfig {
	return InputConfig{Listen: c.Listen, Sockets: c.Sockets, ReceiveBuffer: c.ReceiveBuffer}
}

// DefaultConfig listens on all addresses on the standard ports: 2055
// (NetFlow v5/v9, IPFIX), 4739 (IPFIX) and 6343 (sFlow).
func DefaultConfig() Config {
	return Config{
		NetFlow:       InputConfig{Listen: []string{":2055", ":4739"}, Sockets: 1, ReceiveBuffer: udp.DefaultReceiveBuffer},
		SFlow:         SFlowConfig{Listen: []string{":6343"}, Sockets: 1, ReceiveBuffer: udp.DefaultReceiveBuffer},
		Workers:       runtime.GOMAXPROCS(0),
		WorkerQueue:   4096,
		BatchSize:     8192,
		FlushInterval: time.Second,
		Templates:     templates.DefaultConfig(),

		ExporterMetrics: DefaultExporterMetricsConfig(),
	}
}

// Validate reports every invalid key, by its path under `collector:`.
func (c Config) Validate() error {
	var errs []error
	check := func(ok bool, key, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
		}
	}
	for _, in := range []struct {
		name string
		cfg  InputConfig
	}{{"netflow", c.NetFlow}, {"sflow", c.SFlow.Input()}} {
		check(in.cfg.Sockets >= 1, in.name+".sockets", "must be at least 1, got %d", in.cfg.Sockets)
		check(in.cfg.ReceiveBuffer >= 0, in.name+".receive-buffer", "must not be negative, got %d", in.cfg.ReceiveBuffer)
	}
	check(len(c.NetFlow.Listen)+len(c.SFlow.Listen) > 0, "netflow.listen", "no input: set netflow.listen or sflow.listen")
	check(c.Workers >= 1, "workers", "must be at least 1, got %d", c.Workers)
	check(c.WorkerQueue >= 1, "worker-queue", "must be at least 1, got %d", c.WorkerQueue)
	check(c.BatchSize >= 1, "batch-size", "must be at least 1, got %d", c.BatchSize)
	check(c.FlushInterval > 0, "flush-interval", "must be positive, got %s", c.FlushInterval)
	if _, err := sflow.ParseDecapsulation(c.SFlow.Decapsulate); err != nil {
		errs = append(errs, fmt.Errorf("sflow.decapsulate: %w", err))
	}
	c.ExporterMetrics.validate(check)
	if err := c.Sampling.Validate(); err != nil {
		for _, e := range splitErrors(err) {
			errs = append(errs, fmt.Errorf("sampling.%w", e))
		}
	}
	if _, err := newExporterFilter(c.AllowedExporters); err != nil {
		errs = append(errs, fmt.Errorf("allowed-exporters: %w", err))
	}
	if err := c.Templates.Validate(); err != nil {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				errs = append(errs, fmt.Errorf("templates.%w", e))
			}
		} else {
			errs = append(errs, fmt.Errorf("templates.%w", err))
		}
	}
	return errors.Join(errs...)
}

func splitErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
