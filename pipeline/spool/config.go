package spool

import (
	"errors"
	"fmt"
)

// Policies applied when the spool is full.
const (
	// DropNewest refuses what arrives: the oldest records, waiting longest,
	// are delivered first.
	DropNewest = "drop-newest"
	// DropOldest deletes the oldest segment to make room: the freshest
	// records survive a long outage.
	DropOldest = "drop-oldest"
)

// Config is the `spool:` section.
type Config struct {
	// MaxBytes bounds the spool on disk; past it, Policy drops and counts.
	MaxBytes int64 `yaml:"max-bytes"`
	// SegmentBytes is the size at which a segment file is closed and the
	// next one started; a segment is deleted once all its entries are
	// delivered (or dropped as a whole by drop-oldest).
	SegmentBytes int64 `yaml:"segment-bytes"`
	// Policy is drop-newest or drop-oldest.
	Policy string `yaml:"policy"`
}

// DefaultConfig spools up to 1 GiB in 16 MiB segments and drops the newest
// records beyond.
func DefaultConfig() Config {
	return Config{MaxBytes: 1 << 30, SegmentBytes: 16 << 20, Policy: DropNewest}
}

// Validate names bad keys.
func (c Config) Validate() error {
	var errs []error
	if c.SegmentBytes < 64<<10 {
		errs = append(errs, fmt.Errorf("segment-bytes: must be at least 65536, got %d", c.SegmentBytes))
	}
	if c.MaxBytes < 2*c.SegmentBytes {
		errs = append(errs, fmt.Errorf("max-bytes: must be at least twice segment-bytes (%d), got %d", 2*c.SegmentBytes, c.MaxBytes))
	}
	if c.Policy != DropNewest && c.Policy != DropOldest {
		errs = append(errs, fmt.Errorf("policy: want %s or %s, got %q", DropNewest, DropOldest, c.Policy))
	}
	return errors.Join(errs...)
}
