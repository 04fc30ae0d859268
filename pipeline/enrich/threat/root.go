// Package threat tags addresses listed by threat-intelligence feeds
// (FireHOL netsets, Spamhaus DROP, abuse.ch Feodo Tracker, Tor exits,
// plain lists), read from files or fetched from URLs and refreshed on a
// schedule. All feeds share one prefix table whose values are feed bit
// masks, rebuilt to the side and swapped atomically, so Match never waits
// and never allocates.
package threat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gaissmai/bart"

	"sluice/internal/atomicfile"
	"sluice/internal/background"
	"sluice/internal/reporter"
	"sluice/pipeline/enrich/filestamp"
	"sluice/pipeline/enrich/ipv4map"
)

const (
	// fetchTimeout bounds one download.
	fetchTimeout = time.Minute
	// maxFeedBytes refuses a response too large to be a feed.
	maxFeedBytes = 64 << 20
	// maxRetryDelay is the longest a URL feed waits after a failed fetch,
	// when its refresh period is longer.
	maxRetryDelay = 5 * time.Minute
)

// Set matches addresses against the configured feeds.
type Set struct {
	r        *reporter.Reporter
	feeds    []*feed
	names    []string
	stateDir string
	client   *http.Client
	limiter  *reporter.Limiter
	m        *metrics

	// own are the own networks; ownExcluded the bits of the feeds that
	// must not match inside them, cut out of the table when it is built.
	own         []netip.Prefix
	ownExcluded uint64

	current atomic.Pointer[matchTable]
	version atomic.Uint64 // tables swapped in
	// mu serialises table rebuilds and guards every feed's prefixes.
	mu sync.Mutex

	refresh background.Work
}

// Dependencies is what a Set is handed.
type Dependencies struct {
	// OwnNetworks are the own networks, where feeds not told to match
	// them match nothing.
	OwnNetworks []netip.Prefix
	// StateDir keeps the last good copy of each URL feed ("" keeps none).
	StateDir string
}

type feed struct {
	index    int
	cfg      FeedConfig
	prefixes []netip.Prefix
	// file feeds: the file last read, to see a replacement.
	stamp filestamp.Stamp // the file feed last read
	// URL feeds: validators of the last good response, for conditional
	// requests, and when it was fetched.
	etag, lastModified string
	fetched            time.Time
}

// New loads every feed: file feeds from their file (an unreadable one is
// an error naming its key), URL feeds from the last good copy saved in
// the state directory, if any. It fetches nothing; Start does.
func New(r *reporter.Reporter, cfg Config, deps Dependencies) (*Set, error) {
	r = r.Package()
	own, stateDir := deps.OwnNetworks, deps.StateDir
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Set{
		r: r, stateDir: stateDir, own: own,
		client:  &http.Client{Timeout: fetchTimeout},
		limiter: r.NewLimiter(3, time.Minute),
	}
	for i, fc := range cfg.Feeds {
		s.feeds = append(s.feeds, &feed{index: i, cfg: fc})
		s.names = append(s.names, fc.Name)
		if !fc.MatchOwnNetworks && len(own) > 0 {
			s.ownExcluded |= 1 << i
		}
	}
	if stateDir != "" {
		if err := os.MkdirAll(stateDir, 0o755); err != nil {
			return nil, fmt.Errorf("threat: state directory: %w", err)
		}
	}
	m, err := newMetrics(r, s.names)
	if err != nil {
		return nil, err
	}
	s.m = m
	for _, f := range s.feeds {
		if f.cfg.File != "" {
			if err := s.loadFile(f); err != nil {
				return nil, fmt.Errorf("threat: feeds[%d].file: %w", f.index, err)
			}
			continue
		}
		s.loadState(f)
	}
	s.mu.Lock()
	s.rebuild()
	s.mu.Unlock()
	return s, nil
}

// FeedNames returns the feed names; index i is bit i of a Match mask.
func (s *Set) FeedNames() []string { return append([]string(nil), s.names...) }

// Match returns the mask of the feeds listing a (bit i = feed i). A feed
// without match-own-networks never matches inside the own networks. Safe
// for concurrent use; it does not allocate.
func (s *Set) Match(a netip.Addr) uint64 {
	mask := s.Lookup(a)
	s.CountMatches(mask)
	return mask
}

// Lookup is Match without counting the matches: for a caller that keeps
// masks (a cache in front of the set) and counts each use with
// CountMatches.
func (s *Set) Lookup(a netip.Addr) uint64 {
	t := s.current.Load()
	a = a.Unmap()
	if a.Is4() {
		return t.ipv4Masks[t.ipv4.LookupAddr(a)]
	}
	mask, _ := t.table.Lookup(a)
	return mask
}

// CountMatches adds a match to the counter of each feed in mask.
func (s *Set) CountMatches(mask uint64) {
	for rest := mask; rest != 0; rest &= rest - 1 {
		s.m.feeds[bits.TrailingZeros64(rest)].matches.Inc()
	}
}

// Version changes whenever the set's table is replaced (a feed reloaded or
// refreshed), so a cache of Lookup results knows when to forget them.
func (s *Set) Version() uint64 { return s.version.Load() }

// matchTable is the prefix table and the feed names of every mask it can
// answer, swapped together. The table's IPv4 part is also flattened
// (ipv4map), which answers in a read or two: a feed of 100k entries is a
// tree some levels deep.
type matchTable struct {
	table *bart.Table[uint64]
	ipv4  *ipv4map.Map
	// ipv4Masks[v] is the mask of ipv4's value v; ipv4Masks[0] is 0.
	ipv4Masks []uint64
	names     map[uint64][]string
}

// flattenIPv4 builds the table's ipv4 and ipv4Masks.
func (t *matchTable) flattenIPv4() {
	values := map[uint64]uint32{0: 0}
	t.ipv4Masks = []uint64{0}
	var b ipv4map.Builder
	for p, mask := range t.table.All4() {
		v, ok := values[mask]
		if !ok {
			v = uint32(len(t.ipv4Masks))
			t.ipv4Masks = append(t.ipv4Masks, mask)
			values[mask] = v
		}
		b.Add(p, v)
	}
	t.ipv4 = b.Build()
}

// rebuild swaps in a table made of every feed's current prefixes. Callers
// hold s.mu.
func (s *Set) rebuild() {
	all := make([][]netip.Prefix, len(s.feeds))
	for i, f := range s.feeds {
		all[i] = f.prefixes
	}
	t := &matchTable{table: buildTable(all, s.own, s.ownExcluded), names: map[uint64][]string{}}
	t.flattenIPv4()
	for _, mask := range t.table.All() {
		if _, done := t.names[mask]; !done && mask != 0 {
			t.names[mask] = s.namesOf(mask)
		}
	}
	s.current.Store(t)
	s.version.Add(1)
	s.m.prefixes.Set(float64(t.table.Size()))
}

func (s *Set) namesOf(mask uint64) []string {
	names := make([]string, 0, bits.OnesCount64(mask))
	for rest := mask; rest != 0; rest &= rest - 1 {
		names = append(names, s.names[bits.TrailingZeros64(rest)])
	}
	return names
}

// Names returns the names of the feeds in mask, in config order; nil for
// 0. For a mask Match returned it hands out a slice shared by every caller
// (do not modify it) without allocating; only a mask from a table
// replaced in between is built anew.
func (s *Set) Names(mask uint64) []string {
	if mask == 0 {
		return nil
	}
	if names, ok := s.current.Load().names[mask]; ok {
		return names
	}
	return s.namesOf(mask)
}

// apply installs a feed's new entries and rebuilds the table.
func (s *Set) apply(f *feed, p parsed) {
	m := s.m.feeds[f.index]
	if p.badLines > 0 {
		m.badLines.Add(float64(p.badLines))
		s.limiter.Log(s.r.Logger, "bad-lines-"+f.cfg.Name, "threat feed has lines that are not entries; they are skipped",
			"feed", f.cfg.Name, "bad_lines", p.badLines, "first", p.firstBad)
	}
	s.mu.Lock()
	f.prefixes = p.prefixes
	if s.current.Load() != nil { // New builds once, after loading every feed
		s.rebuild()
	}
	s.mu.Unlock()
	m.entries.Set(float64(len(p.prefixes)))
	m.lastSuccess.SetToCurrentTime()
}

// parseUsable parses a document and refuses an empty one (every published
// feed has a header or entries; a file being rewritten in place is empty
// for a moment) and one that has bad lines and no entry at all: an error
// page served with status 200, a truncated download, or the wrong format
// configured.
func parseUsable(format string, data []byte) (parsed, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return parsed{}, errors.New("empty document")
	}
	p, err := parseFeed(format, data)
	if err != nil {
		return p, err
	}
	if len(p.prefixes) == 0 && p.badLines > 0 {
		return p, fmt.Errorf("no %s entry in %d lines that are not comments (first: %q)", format, p.badLines, p.firstBad)
	}
	return p, nil
}

// loadFile reads a file feed. A file that changed while it was read (being
// rewritten in place) is left for the next check.
func (s *Set) loadFile(f *feed) error {
	data, stamp, err := filestamp.Read(f.cfg.File)
	if err != nil {
		return err
	}
	f.stamp = stamp
	p, err := parseUsable(f.cfg.Format, data)
	if err != nil {
		return fmt.Errorf("%s: %w", f.cfg.File, err)
	}
	s.apply(f, p)
	return nil
}

// statePath is where the last good copy of a URL feed is kept.
func (s *Set) statePath(f *feed) string {
	if s.stateDir == "" {
		return ""
	}
	return filepath.Join(s.stateDir, "threat-feed-"+f.cfg.Name)
}

// loadState starts a URL feed from its saved copy, so that a restart
// without network still matches. The copy's modification time is when it
// was fetched.
func (s *Set) loadState(f *feed) {
	path := s.statePath(f)
	if path == "" {
		return
	}
	info, err := os.Stat(path)
	if err != nil {
		return
	}
	data, err := os.ReadFile(path)
	if err == nil {
		var p parsed
		if p, err = parseUsable(f.cfg.Format, data); err == nil {
			s.apply(f, p)
			f.fetched = info.ModTime()
			return
		}
	}
	s.m.feeds[f.index].loadErrors.Inc()
	s.limiter.Log(s.r.Logger, "state-"+f.cfg.Name, "saved copy of threat feed unusable; waiting for a fetch",
		"feed", f.cfg.Name, "file", path, "error", err)
}

// Start refreshes every feed in the background until Stop.
func (s *Set) Start(context.Context) error {
	s.refresh.Start(s.run)
	return nil
}

// Stop ends the refreshes and waits for them.
func (s *Set) Stop(ctx context.Context) error {
	if err := s.refresh.Stop(ctx); err != nil {
		return fmt.Errorf("threat: %w", err)
	}
	return nil
}

// run refreshes every feed until ctx ends.
func (s *Set) run(ctx context.Context) error {
	if len(s.feeds) == 0 {
		<-ctx.Done()
		return nil
	}
	var wg sync.WaitGroup
	for _, f := range s.feeds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if f.cfg.File != "" {
				s.watchFile(ctx, f)
			} else {
				s.pollURL(ctx, f)
			}
		}()
	}
	wg.Wait()
	return nil
}

func (s *Set) watchFile(ctx context.Context, f *feed) {
	tick := time.NewTicker(f.cfg.refresh())
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		stamp, err := filestamp.Of(f.cfg.File)
		if err == nil && stamp == f.stamp {
			continue
		}
		if err == nil {
			err = s.loadFile(f)
		}
		if errors.Is(err, filestamp.ErrChanging) {
			continue
		}
		if err != nil {
			// Seen once per change: loadFile recorded the file it read,
			// and a missing file is reported at each check until it is
			// back, which the limiter keeps quiet.
			s.m.feeds[f.index].loadErrors.Inc()
			s.limiter.Log(s.r.Logger, "load-"+f.cfg.Name, "threat feed file unusable; keeping its previous entries",
				"feed", f.cfg.Name, "file", f.cfg.File, "error", err)
		}
	}
}

func (s *Set) pollURL(ctx context.Context, f *feed) {
	refresh := f.cfg.refresh()
	wait := time.Duration(0)
	if !f.fetched.IsZero() {
		wait = max(0, time.Until(f.fetched.Add(refresh)))
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		wait = refresh
		if err := s.fetch(ctx, f); err != nil {
			if ctx.Err() != nil {
				return
			}
			wait = min(refresh, maxRetryDelay)
			s.m.feeds[f.index].loadErrors.Inc()
			s.limiter.Log(s.r.Logger, "fetch-"+f.cfg.Name, "threat feed fetch failed; keeping its previous entries",
				"feed", f.cfg.Name, "url", f.cfg.URL, "error", err, "retry_in", wait)
		}
		timer.Reset(wait)
	}
}

var errNotModified = errors.New("not modified")

// fetch downloads a URL feed, conditionally when the last response
// carried validators, and installs and saves it when it parses.
func (s *Set) fetch(ctx context.Context, f *feed) error {
	data, etag, lastModified, err := s.download(ctx, f)
	now := time.Now()
	if errors.Is(err, errNotModified) {
		f.fetched = now
		s.m.feeds[f.index].lastSuccess.SetToCurrentTime()
		if path := s.statePath(f); path != "" {
			_ = os.Chtimes(path, now, now) // the next restart waits a full period
		}
		return nil
	}
	if err != nil {
		return err
	}
	p, err := parseUsable(f.cfg.Format, data)
	if err != nil {
		return err
	}
	s.apply(f, p)
	f.etag, f.lastModified, f.fetched = etag, lastModified, now
	if path := s.statePath(f); path != "" {
		if err := atomicfile.WriteFile(path, data, 0o644); err != nil {
			s.limiter.Log(s.r.Logger, "save-"+f.cfg.Name, "cannot save threat feed copy; a restart without network will miss it",
				"feed", f.cfg.Name, "file", path, "error", err)
		}
	}
	return nil
}

func (s *Set) download(ctx context.Context, f *feed) (data []byte, etag, lastModified string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.cfg.URL, nil)
	if err != nil {
		return nil, "", "", err
	}
	req.Header.Set("User-Agent", "sluice threat-feed fetcher")
	if f.etag != "" {
		req.Header.Set("If-None-Match", f.etag)
	}
	if f.lastModified != "" {
		req.Header.Set("If-Modified-Since", f.lastModified)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, "", "", err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotModified:
		return nil, "", "", errNotModified
	default:
		return nil, "", "", fmt.Errorf("HTTP status %s", resp.Status)
	}
	data, err = io.ReadAll(io.LimitReader(resp.Body, maxFeedBytes+1))
	if err != nil {
		return nil, "", "", fmt.Errorf("reading the response: %w", err)
	}
	if len(data) > maxFeedBytes {
		return nil, "", "", fmt.Errorf("response larger than %d bytes", maxFeedBytes)
	}
	return data, resp.Header.Get("ETag"), resp.Header.Get("Last-Modified"), nil
}
