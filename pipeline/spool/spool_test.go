package spool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/internal/reporter"
	"sluice/internal/testenv"
)

func newReporter() *reporter.Reporter {
	return reporter.New(slog.New(slog.DiscardHandler)).Sub("spool")
}

func smallConfig() Config {
	return Config{MaxBytes: 4 * (64 << 10), SegmentBytes: 64 << 10, Policy: DropNewest}
}

func open(t *testing.T, dir string, cfg Config) (*Spool, *reporter.Reporter) {
	t.Helper()
	r := newReporter()
	s, err := New(r, cfg, Dependencies{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return s, r
}

func value(i int) []byte { return []byte(fmt.Sprintf("value-%06d-%s", i, strings.Repeat("x", 1000))) }

func next(t *testing.T, s *Spool) Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	e, err := s.Next(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func counter(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var v float64
	for _, mf := range mfs {
		if strings.HasSuffix(mf.GetName(), name) {
			for _, m := range mf.GetMetric() {
				v += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return v
}

// Entries come back in order across segments, with their keys, record
// counts and stable IDs; acknowledged segments are deleted.
func TestOrderAndAck(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, dir, Config{MaxBytes: 1 << 20, SegmentBytes: 64 << 10, Policy: DropNewest})
	const n = 200 // ~200 KiB: several segments
	for i := range n {
		if err := s.Append([]byte{byte(i)}, value(i), i+1); err != nil {
			t.Fatal(err)
		}
	}
	ids := map[string]bool{}
	for i := range n {
		e := next(t, s)
		if string(e.Value) != string(value(i)) || e.Key[0] != byte(i) || e.Records != i+1 {
			t.Fatalf("entry %d: key %v records %d value %.20q", i, e.Key, e.Records, e.Value)
		}
		if ids[e.ID] {
			t.Fatalf("ID %s twice", e.ID)
		}
		ids[e.ID] = true
		s.Ack(e.Pos)
	}
	if entries, _ := s.Pending(); entries != 0 {
		t.Fatalf("%d entries pending after every ack", entries)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) != 1 {
		t.Fatalf("%d segment files left, want only the one being written: %v", len(segs), segs)
	}
	// Nothing more: Next waits until ctx ends.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Next(ctx, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next on an empty spool: %v", err)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// A clean restart resumes after what was acknowledged, with the same IDs;
// a torn record at the end of a segment is cut off.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, dir, Config{MaxBytes: 1 << 20, SegmentBytes: 64 << 10, Policy: DropNewest})
	for i := range 10 {
		if err := s.Append([]byte("k"), value(i), 1); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	for range 4 {
		e := next(t, s)
		ids = append(ids, e.ID)
		s.Ack(e.Pos)
	}
	e := next(t, s) // read, never acknowledged: delivered again
	ids = append(ids, e.ID)
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A crash in the middle of an append leaves half a record.
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	f, err := os.OpenFile(segs[len(segs)-1], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0, 0, 4, 0, 1, 2})
	f.Close()

	s, _ = open(t, dir, Config{MaxBytes: 1 << 20, SegmentBytes: 64 << 10, Policy: DropNewest})
	defer s.Stop(context.Background())
	if n, _ := s.Pending(); n != 6 {
		t.Fatalf("%d entries pending after restart, want 6", n)
	}
	e = next(t, s)
	if string(e.Value) != string(value(4)) || e.ID != ids[4] {
		t.Fatalf("first entry after restart: %.12q id %s, want value 4 with id %s", e.Value, e.ID, ids[4])
	}
	for i := 5; i < 10; i++ {
		if e := next(t, s); string(e.Value) != string(value(i)) {
			t.Fatalf("entry %d: %.12q", i, e.Value)
		}
	}
	if err := s.Append([]byte("k"), value(10), 1); err != nil {
		t.Fatal(err)
	}
	if e := next(t, s); string(e.Value) != string(value(10)) {
		t.Fatalf("entry after the torn one: %.12q", e.Value)
	}
}

func TestDropNewest(t *testing.T) {
	s, r := open(t, t.TempDir(), smallConfig())
	defer s.Stop(context.Background())
	accepted, refused := 0, 0
	for i := range 400 {
		switch err := s.Append([]byte("k"), value(i), 3); {
		case err == nil:
			accepted++
		case errors.Is(err, ErrFull):
			refused++
		default:
			t.Fatal(err)
		}
	}
	if refused == 0 || accepted == 0 {
		t.Fatalf("accepted %d refused %d", accepted, refused)
	}
	if _, b := s.Pending(); b > smallConfig().MaxBytes {
		t.Fatalf("spool holds %d bytes, bound %d", b, smallConfig().MaxBytes)
	}
	if got := counter(t, r.Gatherer(), "spool_dropped_records_total"); got != float64(3*refused) {
		t.Fatalf("dropped_records_total = %v, want %d", got, 3*refused)
	}
	// The oldest survive.
	if e := next(t, s); string(e.Value) != string(value(0)) {
		t.Fatalf("first entry %.12q", e.Value)
	}
}

func TestDropOldest(t *testing.T) {
	cfg := smallConfig()
	cfg.Policy = DropOldest
	s, r := open(t, t.TempDir(), cfg)
	defer s.Stop(context.Background())
	const n = 400
	for i := range n {
		if err := s.Append([]byte("k"), value(i), 2); err != nil {
			t.Fatal(err)
		}
	}
	if _, b := s.Pending(); b > cfg.MaxBytes {
		t.Fatalf("spool holds %d bytes, bound %d", b, cfg.MaxBytes)
	}
	entries, _ := s.Pending()
	dropped := counter(t, r.Gatherer(), "spool_dropped_records_total")
	if dropped == 0 || int(dropped)/2+entries != n {
		t.Fatalf("dropped %v records, %d entries left: want %d entries in all", dropped, entries, n)
	}
	// The newest survive, in order, up to the last.
	first := next(t, s)
	var i int
	fmt.Sscanf(string(first.Value), "value-%d-", &i)
	if i != n-entries {
		t.Fatalf("first surviving entry is %d, want %d", i, n-entries)
	}
	for j := i + 1; j < n; j++ {
		if e := next(t, s); string(e.Value) != string(value(j)) {
			t.Fatalf("entry %d: %.12q", j, e.Value)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := Config{MaxBytes: 1, SegmentBytes: 1, Policy: "drop-random"}
	err := bad.Validate()
	for _, key := range []string{"segment-bytes: ", "max-bytes: ", "policy: "} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("error %v does not name %s", err, key)
		}
	}
}

// crash abandons s as a killed process would: what was appended is in the
// files, and neither the cursor nor anything else is written.
func crash(s *Spool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.closeFiles()
}

// A crash after a clean restart loses nothing: the cursor the clean stop
// left must not mark the next run's entries as delivered (segment numbers
// are never reused), and their IDs are new.
func TestCrashAfterCleanRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{MaxBytes: 1 << 20, SegmentBytes: 64 << 10, Policy: DropNewest}

	// Run 1: several segments, all delivered, clean stop.
	s, _ := open(t, dir, cfg)
	seen := map[string]bool{}
	for i := range 150 {
		if err := s.Append([]byte("k"), value(i), 1); err != nil {
			t.Fatal(err)
		}
	}
	for range 150 {
		e := next(t, s)
		seen[e.ID] = true
		s.Ack(e.Pos)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Run 2: new entries, then a crash.
	s, _ = open(t, dir, cfg)
	if n, _ := s.Pending(); n != 0 {
		t.Fatalf("run 2 starts with %d entries pending, want 0", n)
	}
	const n = 100
	for i := range n {
		if err := s.Append([]byte("k"), value(1000+i), 1); err != nil {
			t.Fatal(err)
		}
	}
	crash(s)

	// Run 3: every entry of run 2 is there, in order, under new IDs.
	s, _ = open(t, dir, cfg)
	defer s.Stop(context.Background())
	if got, _ := s.Pending(); got != n {
		t.Fatalf("%d entries pending after the crash, want %d", got, n)
	}
	for i := range n {
		e := next(t, s)
		if string(e.Value) != string(value(1000+i)) {
			t.Fatalf("entry %d: %.12q", i, e.Value)
		}
		if seen[e.ID] {
			t.Fatalf("entry %d reuses ID %s of an entry delivered in run 1", i, e.ID)
		}
	}
}

// Once started, the spool records acknowledgements on disk within its
// cursor interval: a crash (no Stop) does not deliver them again, and the
// entries keep their identity (instance and sequence) across it.
func TestCursorKeptWithoutStop(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig()
	cfg.CursorInterval = 10 * time.Millisecond
	s, _ := open(t, dir, cfg)
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := s.Append([]byte{byte(i)}, value(i), 1); err != nil {
			t.Fatal(err)
		}
	}
	var entries []Entry
	for range 20 {
		entries = append(entries, next(t, s))
	}
	for _, e := range entries[:12] {
		s.Ack(e.Pos)
	}
	for i := 1; i < len(entries); i++ {
		if entries[i].Pos.Seq() <= entries[i-1].Pos.Seq() {
			t.Fatalf("sequence numbers do not grow: %v then %v", entries[i-1].Pos, entries[i].Pos)
		}
	}
	want := entries[12].Pos
	testenv.Eventually(t, 10*time.Second, "the cursor to record the acknowledgements", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, cursorFile))
		return string(b) == fmt.Sprintf("%d %d\n", want.Segment, want.Index)
	})
	// The crash: the first spool is never stopped (its goroutine is, so
	// that it does not write over the second's cursor).
	s.stopSync()
	<-s.syncDone
	s2, _ := open(t, dir, cfg)
	defer s2.Stop(context.Background())
	e := next(t, s2)
	if e.Pos != want || e.ID != entries[12].ID || s2.Instance() != s.Instance() {
		t.Fatalf("first entry after the crash: %v %s (instance %s), want %v %s (instance %s)",
			e.Pos, e.ID, s2.Instance(), want, entries[12].ID, s.Instance())
	}
	if n, _ := s2.Pending(); n != 8 {
		t.Fatalf("%d entries pending after the crash, want the 8 not acknowledged", n)
	}
}

// AckDurably records the delivered position before it returns: a crash
// right after (no Start, no Stop) reads none of the acknowledged entries
// again, across a segment boundary too.
func TestAckDurably(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, dir, smallConfig())
	const n = 120 // about two segments of 64 KiB
	for i := range n {
		if err := s.Append(nil, value(i), 1); err != nil {
			t.Fatal(err)
		}
	}
	const acked = 90
	for range acked {
		if err := s.AckDurably(next(t, s).Pos); err != nil {
			t.Fatal(err)
		}
	}
	crash(s)
	s2, _ := open(t, dir, smallConfig())
	defer s2.Stop(context.Background())
	if got, _ := s2.Pending(); got != n-acked {
		t.Fatalf("%d entries pending after the crash, want the %d not acknowledged", got, n-acked)
	}
	if e := next(t, s2); string(e.Value) != string(value(acked)) {
		t.Fatalf("first entry after the crash: %.12q, want entry %d", e.Value, acked)
	}
	if err := s.AckDurably(Pos{}); !errors.Is(err, ErrClosed) {
		t.Errorf("AckDurably after the spool closed: %v, want ErrClosed", err)
	}
}

// A spool directory whose cursor is gone may number its segments from the
// start again: it takes a new instance ID, so that no entry is taken for
// one delivered before.
func TestNewInstanceWithoutCursor(t *testing.T) {
	dir := t.TempDir()
	first := instance(t, dir)
	if again := instance(t, dir); again != first {
		t.Fatalf("instance changed across a clean restart: %s, then %s", first, again)
	}
	if err := os.Remove(filepath.Join(dir, cursorFile)); err != nil {
		t.Fatal(err)
	}
	second := instance(t, dir)
	if second == first {
		t.Fatalf("instance %s kept though the cursor was lost", first)
	}
	if err := os.WriteFile(filepath.Join(dir, cursorFile), []byte("garbage"), 0o640); err != nil {
		t.Fatal(err)
	}
	if third := instance(t, dir); third == second {
		t.Fatalf("instance %s kept though the cursor was unreadable", second)
	}
}

// instance opens the spool in dir, stops it, and returns its instance ID.
func instance(t *testing.T, dir string) string {
	t.Helper()
	s, _ := open(t, dir, smallConfig())
	id := s.Instance()
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestSync: Sync covers the segment being written and, once a writer
// syncs, the segments sealed since its last Sync; it fails after Stop.
func TestSync(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, dir, smallConfig())
	if err := s.Append(nil, value(0), 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if !s.syncing || len(s.sealed) != 0 {
		t.Fatalf("after the first Sync: syncing %v, sealed %v", s.syncing, s.sealed)
	}
	// Enough to seal at least one segment.
	for i := 1; i < 200; i++ {
		if err := s.Append(nil, value(i), 1); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.sealed) == 0 {
		t.Fatal("no sealed segment listed for the next Sync")
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if len(s.sealed) != 0 {
		t.Errorf("sealed segments left after Sync: %v", s.sealed)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(); !errors.Is(err, ErrClosed) {
		t.Errorf("Sync after Stop: %v, want ErrClosed", err)
	}
}

// A segment file lost to a power loss (its directory entry never reached
// the disk, though its entries reached Kafka) does not free its number:
// the next segment under the same instance ID gets a fresh one, so that no
// new entry carries the identity of one delivered before.
func TestSpoolLostSegmentKeepsNumber(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{MaxBytes: 1 << 20, SegmentBytes: 64 << 10, Policy: DropNewest}
	s, _ := open(t, dir, cfg)
	delivered := map[string]bool{}
	var newest uint64
	for i := range 150 {
		if err := s.Append([]byte("k"), value(i), 1); err != nil {
			t.Fatal(err)
		}
	}
	for range 150 {
		e := next(t, s)
		delivered[e.ID] = true // as if it reached Kafka
		newest = max(newest, e.Pos.Segment)
	}
	instance := s.Instance()
	crash(s)
	// The power loss: the newest segment file is gone; the cursor still
	// names the first segment, as nothing was acknowledged.
	segs, _ := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	for _, path := range segs {
		seq, _ := strconv.ParseUint(strings.TrimSuffix(filepath.Base(path), segSuffix), 10, 64)
		if seq >= newest {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}
	}
	s, _ = open(t, dir, cfg)
	defer s.Stop(context.Background())
	if s.Instance() != instance {
		t.Fatalf("instance changed: %s, then %s", instance, s.Instance())
	}
	for i := range 200 {
		if err := s.Append([]byte("k"), value(1000+i), 1); err != nil {
			t.Fatal(err)
		}
	}
	for n, _ := s.Pending(); n > 0; n-- {
		e := next(t, s)
		if !strings.HasPrefix(string(e.Value), "value-001") {
			continue // an entry of the first run, read again under its ID
		}
		if e.Pos.Segment <= newest || delivered[e.ID] {
			t.Fatalf("new entry %.12q is %s, in segment %d; the lost segment was %d", e.Value, e.ID, e.Pos.Segment, newest)
		}
	}
}

// A copy of a spool directory, elsewhere on the machine or on another
// machine, takes a new instance ID; the directory itself, and one of an
// earlier version without a fingerprint, keep theirs.
func TestSpoolIdentityFingerprint(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	first := instance(t, dir)
	if again := instance(t, dir); again != first {
		t.Fatalf("instance changed across a restart: %s, then %s", first, again)
	}

	// An earlier version's directory: no fingerprint; the ID is kept.
	if err := os.Remove(filepath.Join(dir, fingerprintFile)); err != nil {
		t.Fatal(err)
	}
	if again := instance(t, dir); again != first {
		t.Fatalf("instance changed when the fingerprint was first recorded: %s, then %s", first, again)
	}

	// A copy (another inode), as cp -a or a file-level restore makes.
	clone := filepath.Join(t.TempDir(), "spool")
	if err := os.CopyFS(clone, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	if copied := instance(t, clone); copied == first {
		t.Fatalf("the copy of the directory kept the instance ID %s", first)
	}

	// The same directory seen from another machine (a cloned VM).
	machine := filepath.Join(t.TempDir(), "machine-id")
	if err := os.WriteFile(machine, []byte("0123456789abcdef0123456789abcdef\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	saved := machineIDFiles
	machineIDFiles = []string{machine}
	defer func() { machineIDFiles = saved }()
	if moved := instance(t, dir); moved == first {
		t.Fatalf("the directory on another machine kept the instance ID %s", first)
	}
}
