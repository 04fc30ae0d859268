package spool

import (
	"errors"
	"fmt"
	"time"
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
	// CursorInterval is the longest an acknowledgement waits before the
	// cursor file records it on disk: after a crash (kill -9, power loss)
	// the entries acknowledged within that last interval, and those Kafka
	// had not yet acknowledged, are sent again. The pipeline recognises
	// such copies by their identity and stores nothing twice; the interval
	// only bounds how much is sent again. Default 100ms (0 means the
	// default).
	CursorInterval time.Duration `yaml:"cursor-interval"`
}

// maxSegmentBytes keeps a segment's entry indexes below 2^32 (an entry
// takes at least 14 bytes), so that an entry's sequence number, segment
// and index packed in 64 bits, orders every entry of a spool.
const maxSegmentBytes = 4 << 30

const defaultCursorInterval = 100 * time.Millisecond

// DefaultConfig spools up to 1 GiB in 16 MiB segments, drops the newest
// records beyond, and records acknowledgements on disk every 100ms.
func DefaultConfig() Config {
	return Config{MaxBytes: 1 << 30, SegmentBytes: 16 << 20, Policy: DropNewest, CursorInterval: defaultCursorInterval}
}

// Validate names bad keys.
func (c Config) Validate() error {
	var errs []error
	if c.SegmentBytes < 64<<10 {
		errs = append(errs, fmt.Errorf("segment-bytes: must be at least 65536, got %d", c.SegmentBytes))
	}
	if c.SegmentBytes > maxSegmentBytes {
		errs = append(errs, fmt.Errorf("segment-bytes: must be at most %d, got %d", int64(maxSegmentBytes), c.SegmentBytes))
	}
	if c.CursorInterval < 0 {
		errs = append(errs, fmt.Errorf("cursor-interval: must not be negative, got %s", c.CursorInterval))
	}
	if c.MaxBytes < 2*c.SegmentBytes {
		errs = append(errs, fmt.Errorf("max-bytes: must be at least twice segment-bytes (%d), got %d", 2*c.SegmentBytes, c.MaxBytes))
	}
	if c.Policy != DropNewest && c.Policy != DropOldest {
		errs = append(errs, fmt.Errorf("policy: want %s or %s, got %q", DropNewest, DropOldest, c.Policy))
	}
	return errors.Join(errs...)
}
