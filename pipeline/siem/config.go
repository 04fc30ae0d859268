package siem

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"sluice/pipeline/spool"
)

// Delivery modes.
const (
	// DeliveryWait makes WriteBatches block, retrying with backoff, until
	// the receiver acknowledged: a receiver that is down holds the
	// pipeline back (and Kafka or the in-process queue buffer upstream).
	DeliveryWait = "wait"
	// DeliverySpool appends the events to a bounded on-disk spool in the
	// data directory and delivers them in the background; a full spool
	// holds the pipeline back as wait does. Nothing is dropped.
	DeliverySpool = "spool"
)

// Config is one SIEM sink, an entry of the `siem.sinks:` list. The
// transport's own settings sit beside it in the same entry (cmd/sluice
// composes them).
type Config struct {
	// Name names the sink in metrics (label sink), logs and the spool's
	// directory (siem-spool/<name>). Required, unique.
	Name string `yaml:"name"`
	// Type is the transport: kafka, syslog or hec.
	Type string `yaml:"type"`
	// Format is the documents' format: ecs, ocsf or cef.
	Format string `yaml:"format"`
	// Kinds are what the sink delivers: flow, alert, or both (default).
	Kinds []string `yaml:"kinds"`
	// Filter selects the flows and alerts delivered; empty: all.
	Filter FilterConfig `yaml:"filter"`
	// Delivery is wait (default) or spool.
	Delivery string `yaml:"delivery"`
	// RetryMin and RetryMax bound the backoff between attempts to send to
	// a receiver that failed (default 200ms to 10s, doubling).
	RetryMin time.Duration `yaml:"retry-min"`
	RetryMax time.Duration `yaml:"retry-max"`
	// MaxBatchEvents caps the events handed to the transport at once
	// (default 1000).
	MaxBatchEvents int `yaml:"max-batch-events"`
	// Spool bounds the on-disk spool of delivery spool (default 1 GiB in
	// 16 MiB segments); its policy is ignored: a full spool holds back.
	// A spool entry holds up to max-batch-events events and up to the
	// least of segment-bytes, max-bytes/2 and 64 MiB; a single event
	// larger than that fails the write, naming these keys.
	Spool SpoolConfig `yaml:"spool"`
}

// SpoolConfig is a sink's `spool:`.
type SpoolConfig struct {
	MaxBytes     int64 `yaml:"max-bytes"`
	SegmentBytes int64 `yaml:"segment-bytes"`
}

// FilterConfig selects events. Conditions combine with AND; a list
// matches when any of its entries does.
type FilterConfig struct {
	// ThreatOnly keeps only flows with a threat-feed hit on either side.
	ThreatOnly bool `yaml:"threat-only"`
	// Directions keeps flows whose traffic direction (relative to the own
	// networks) is listed: inbound, outbound, internal, transit, unknown.
	Directions []string `yaml:"directions"`
	// Exporters keeps flows (and alerts) from exporters in these prefixes
	// or addresses.
	Exporters []string `yaml:"exporters"`
	// Protocols keeps flows of these IP protocol numbers.
	Protocols []uint8 `yaml:"protocols"`
	// MinSeverity keeps alerts at or above it: info, low, medium, high,
	// critical (default info: all).
	MinSeverity string `yaml:"min-severity"`
	// Detections keeps alerts of these detections; empty: all.
	Detections []string `yaml:"detections"`
}

// DefaultConfig is a sink's defaults; Name, Type and Format have none.
func DefaultConfig() Config {
	return Config{
		Kinds:          []string{"flow", "alert"},
		Delivery:       DeliveryWait,
		RetryMin:       200 * time.Millisecond,
		RetryMax:       10 * time.Second,
		MaxBatchEvents: 1000,
		Spool:          SpoolConfig{MaxBytes: 1 << 30, SegmentBytes: 16 << 20},
		Filter:         FilterConfig{MinSeverity: "info"},
	}
}

// Types and formats a sink can have.
var (
	Types   = []string{"kafka", "syslog", "hec"}
	Formats = []string{"ecs", "ocsf", "cef"}
)

// Validate names bad keys.
func (c Config) Validate() error {
	var errs []error
	check := func(ok bool, key, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
		}
	}
	check(c.Name != "" && strings.Trim(c.Name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == "",
		"name", "want 1 or more of [a-zA-Z0-9_-], got %q", c.Name)
	check(slices.Contains(Types, c.Type), "type", "want one of %s, got %q", strings.Join(Types, ", "), c.Type)
	check(slices.Contains(Formats, c.Format), "format", "want one of %s, got %q", strings.Join(Formats, ", "), c.Format)
	check(len(c.Kinds) > 0, "kinds", "want flow, alert or both")
	for i, k := range c.Kinds {
		check(k == "flow" || k == "alert", fmt.Sprintf("kinds[%d]", i), "want flow or alert, got %q", k)
	}
	check(c.Delivery == DeliveryWait || c.Delivery == DeliverySpool, "delivery", "want wait or spool, got %q", c.Delivery)
	check(c.RetryMin > 0, "retry-min", "must be positive, got %s", c.RetryMin)
	check(c.RetryMax >= c.RetryMin, "retry-max", "must be at least retry-min (%s), got %s", c.RetryMin, c.RetryMax)
	check(c.MaxBatchEvents >= 1, "max-batch-events", "must be at least 1, got %d", c.MaxBatchEvents)
	if c.Delivery == DeliverySpool {
		if err := c.spoolConfig().Validate(); err != nil {
			errs = append(errs, fmt.Errorf("spool.%w", err))
		}
	}
	if _, err := c.Filter.compile(); err != nil {
		errs = append(errs, fmt.Errorf("filter.%w", err))
	}
	return errors.Join(errs...)
}

func (c Config) spoolConfig() spool.Config {
	// drop-newest only refuses: the sink checks for room before appending
	// and waits, so the policy never drops anything.
	return spool.Config{MaxBytes: c.Spool.MaxBytes, SegmentBytes: c.Spool.SegmentBytes, Policy: spool.DropNewest}
}

func (c Config) wants(k Kind) bool { return slices.Contains(c.Kinds, k.String()) }

// filter is FilterConfig compiled.
type filter struct {
	threatOnly  bool
	directions  uint32 // bit per record.TrafficDirection
	exporters   []netip.Prefix
	protocols   [256]bool
	anyProto    bool
	minSeverity uint8
	detections  []string
}

func (f FilterConfig) compile() (filter, error) {
	out := filter{threatOnly: f.ThreatOnly, anyProto: len(f.Protocols) == 0, detections: f.Detections}
	for i, d := range f.Directions {
		bit := -1
		for n, name := range []string{"unknown", "inbound", "outbound", "internal", "transit"} {
			if d == name {
				bit = n
			}
		}
		if bit < 0 {
			return out, fmt.Errorf("directions[%d]: want inbound, outbound, internal, transit or unknown, got %q", i, d)
		}
		out.directions |= 1 << bit
	}
	for i, e := range f.Exporters {
		p, err := netip.ParsePrefix(e)
		if err != nil {
			a, aerr := netip.ParseAddr(e)
			if aerr != nil {
				return out, fmt.Errorf("exporters[%d]: want an address or prefix, got %q", i, e)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out.exporters = append(out.exporters, p.Masked())
	}
	for _, p := range f.Protocols {
		out.protocols[p] = true
	}
	sev := map[string]uint8{"": 0, "info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
	s, ok := sev[f.MinSeverity]
	if !ok {
		return out, fmt.Errorf("min-severity: want info, low, medium, high or critical, got %q", f.MinSeverity)
	}
	out.minSeverity = s
	return out, nil
}
