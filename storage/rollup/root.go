// Package rollup rolls the 1-minute rollups up into the 5-minute and hourly
// ones on the embedded engine, off the insert path (schema version 11,
// storage/migrate/rolled.go). Every insert into flows records the 5-minute
// windows it touched (sluice.rollup_pending); each pass takes the windows
// recorded since the previous pass and adds to each coarse rollup, key by
// key, what the finer rollup holds beyond it. The finer rollups only grow
// and the roller is the coarse ones' only writer, so a window rolled again
// adds nothing, late flows are added to their windows, and a pass cut short
// (crash, stop) is simply done again.
package rollup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"sluice/internal/atomicfile"
	"sluice/internal/reporter"
	"sluice/storage/migrate"
)

// Store runs the roller's queries: the embedded engine.
type Store interface {
	Query(ctx context.Context, sql, format string) ([]byte, error)
	Exec(ctx context.Context, sql string) error
}

// Dependencies are the roller's collaborators.
type Dependencies struct {
	Store Store // required
	// StateDir keeps the cursor (how far the recorded windows are rolled
	// up); empty keeps nothing, and a start rolls up again every window
	// still recorded (harmless, only slower).
	StateDir string
	// Now is the wall clock (tests); nil is time.Now.
	Now func() time.Time
}

// insertMargin is how far behind its cursor a pass looks again: an
// insert's windows are recorded with the time its views ran, and become
// visible when it commits, a little later.
const insertMargin = 5 * time.Minute

// Roller is the roller.
type Roller struct {
	cfg     Config
	deps    Dependencies
	logger  *slog.Logger
	limiter *reporter.Limiter
	metrics *metrics
	rollUps []migrate.RollUp

	passMu sync.Mutex // one pass at a time; guards cursor
	cursor time.Time  // zero: none yet

	cancel context.CancelFunc
	done   chan struct{}
}

// New checks the configuration and builds the roller; it starts nothing.
func New(r *reporter.Reporter, cfg Config, deps Dependencies) (*Roller, error) {
	r = r.Package()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("rollup: %w", err)
	}
	if deps.Store == nil {
		return nil, fmt.Errorf("rollup: %w", errNoStore)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	m, err := newMetrics(r.Registerer())
	if err != nil {
		return nil, fmt.Errorf("rollup: %w", err)
	}
	for _, g := range []string{"5m", "1h"} {
		m.windows.WithLabelValues(g)
	}
	return &Roller{cfg: cfg, deps: deps, logger: r.Logger, limiter: r.NewLimiter(3, time.Minute), metrics: m, rollUps: migrate.RollUps()}, nil
}

// Start loads the cursor and starts the passes, the first at once.
func (r *Roller) Start(ctx context.Context) error {
	cursor, err := loadCursor(r.deps.StateDir)
	if err != nil {
		// Rolling up every recorded window again is exact, only slower.
		r.logger.Warn("rollup cursor unreadable: rolling up every recorded window again", "err", err)
	}
	r.cursor = cursor
	r.metrics.cursor.Set(float64(cursor.Unix()))
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel, r.done = cancel, make(chan struct{})
	go r.loop(runCtx)
	return nil
}

// Stop ends the passes, then makes a last one within ctx, so that a store
// stopped after its last insert has every rollup complete.
func (r *Roller) Stop(ctx context.Context) error {
	if r.cancel == nil {
		return nil
	}
	r.cancel()
	select {
	case <-r.done:
	case <-ctx.Done():
		return fmt.Errorf("rollup: stop: %w", ctx.Err())
	}
	r.limiter.Stop()
	if err := r.Roll(ctx); err != nil {
		// Nothing is lost: the windows stay recorded for the next start.
		r.logger.Warn("rollup: the last pass failed; its windows are rolled up at the next start", "err", err)
	}
	return nil
}

func (r *Roller) loop(ctx context.Context) {
	defer close(r.done)
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		if err := r.Roll(ctx); err != nil && ctx.Err() == nil {
			r.limiter.Log(r.logger, "pass", "rolling up the 5-minute and hourly rollups failed; retrying at the next pass", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Roll makes one pass: it rolls up every window recorded since the
// previous pass (less insertMargin), then advances and saves the cursor.
func (r *Roller) Roll(ctx context.Context) error {
	r.passMu.Lock()
	defer r.passMu.Unlock()
	start := r.deps.Now()
	err := r.pass(ctx, start)
	r.metrics.duration.Observe(r.deps.Now().Sub(start).Seconds())
	if err != nil {
		r.metrics.errors.Inc()
		return err
	}
	r.metrics.passes.Inc()
	r.cursor = start
	r.metrics.cursor.Set(float64(start.Unix()))
	if err := saveCursor(r.deps.StateDir, start); err != nil {
		return fmt.Errorf("rollup: save cursor: %w", err)
	}
	return nil
}

func (r *Roller) pass(ctx context.Context, start time.Time) error {
	since := start.Add(-migrate.PendingTTL)
	if !r.cursor.IsZero() {
		since = r.cursor.Add(-insertMargin)
	}
	for _, grain := range []struct {
		name     string
		interval time.Duration
	}{{"5m", 5 * time.Minute}, {"1h", time.Hour}} {
		windows, err := r.windows(ctx, grain.interval, since)
		if err != nil {
			return err
		}
		for _, w := range windows {
			for _, ru := range r.rollUps {
				if ru.Coarse.Interval != grain.interval {
					continue
				}
				if err := r.rollUp(ctx, ru, w); err != nil {
					return err
				}
			}
			r.metrics.windows.WithLabelValues(grain.name).Inc()
		}
	}
	return nil
}

// windows lists the windows of a grain recorded since, as Unix seconds.
func (r *Roller) windows(ctx context.Context, grain time.Duration, since time.Time) ([]int64, error) {
	out, err := r.deps.Store.Query(ctx, migrate.PendingWindows(grain, since), "TSV")
	if err != nil {
		return nil, fmt.Errorf("rollup: list the %s windows to roll up: %w", grain, err)
	}
	var windows []int64
	for _, line := range strings.Fields(string(out)) {
		w, err := strconv.ParseInt(line, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("rollup: list the %s windows to roll up: %q: %w", grain, line, err)
		}
		windows = append(windows, w)
	}
	return windows, nil
}

// rollUp adds to a coarse rollup's window what its finer rollup holds
// beyond it. The insert's token names the coarse window's state the delta
// was computed against: an insert retried, or made twice from the same
// state, is stored once.
func (r *Roller) rollUp(ctx context.Context, ru migrate.RollUp, window int64) error {
	state, err := r.deps.Store.Query(ctx, ru.RollUpState(window), "TSV")
	if err != nil {
		return fmt.Errorf("rollup: read %s at %d: %w", ru.Coarse.QualifiedTable(), window, err)
	}
	token := fmt.Sprintf("sluice-rollup/%s/%d/%s", ru.Coarse.Table, window, strings.Join(strings.Fields(string(state)), "/"))
	if err := r.deps.Store.Exec(ctx, ru.RollUpInsert(window, token)); err != nil {
		return fmt.Errorf("rollup: roll %s up into %s at %d: %w", ru.Fine.QualifiedTable(), ru.Coarse.QualifiedTable(), window, err)
	}
	return nil
}

const cursorFile = "cursor"

func loadCursor(dir string) (time.Time, error) {
	if dir == "" {
		return time.Time{}, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, cursorFile))
	if errors.Is(err, os.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	s, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", filepath.Join(dir, cursorFile), err)
	}
	return time.Unix(s, 0), nil
}

func saveCursor(dir string, t time.Time) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, cursorFile), []byte(strconv.FormatInt(t.Unix(), 10)+"\n"), 0o640)
}
