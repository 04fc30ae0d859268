// Package geoip enriches addresses with country, city, AS number and AS
// organisation from MaxMind-format databases (GeoLite2/GeoIP2, DB-IP lite,
// IPinfo). Files replaced on disk, by rename or in place, are picked up by
// the checks Start launches, without a restart and without pausing Lookup:
// a new database is loaded to the side and swapped in atomically; a broken one is refused and
// the old one kept.
package geoip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"

	"sluice/internal/background"
	"sluice/internal/reporter"
	"sluice/pipeline/enrich/filestamp"
)

// Result is what a lookup finds; empty strings and 0 mean unknown. The
// strings are shared by every lookup of the same database record and must
// not be modified.
type Result struct {
	Country, City, ASName string
	ASN                   uint32
}

// DB answers lookups from the configured databases.
type DB struct {
	r       *reporter.Reporter
	cfg     Config
	limiter *reporter.Limiter
	m       *metrics
	// geo and asn are nil when off; they are the same source when both
	// keys name the same file.
	geo, asn *source
	reloads  background.Work
}

// Dependencies is what a DB is handed: nothing yet.
type Dependencies struct{}

// source is one configured file and the database currently loaded from it.
type source struct {
	role    string // "geo" or "asn", the key without "-database"
	path    string
	current atomic.Pointer[database]
	// swaps counts the databases stored in current (DB.Version).
	swaps atomic.Uint64
	// seen is the stamp of the file last tried, good or bad, so that a
	// broken replacement is reported once, not at every check.
	seen filestamp.Stamp
	m    sourceMetrics
}

// database is one loaded file with its caches. They are replaced
// together, so a cache never answers for another file.
type database struct {
	reader *maxminddb.Reader
	layout layout
	ipv4   ipv4Table
	// records caches the records IPv6 lookups walk to.
	records recordCache
}

// New opens the configured databases. It fails, naming the file, when one
// cannot be read or has an unsupported layout. Start looks for replaced
// files.
func New(r *reporter.Reporter, cfg Config, _ Dependencies) (*DB, error) {
	r = r.Package()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &DB{r: r, cfg: cfg, limiter: r.NewLimiter(3, time.Minute)}
	if cfg.GeoDatabase != "" {
		d.geo = &source{role: "geo", path: cfg.GeoDatabase}
	}
	switch {
	case cfg.ASNDatabase == "":
	case cfg.ASNDatabase == cfg.GeoDatabase:
		d.asn = d.geo
	default:
		d.asn = &source{role: "asn", path: cfg.ASNDatabase}
	}
	m, err := newMetrics(r, d.sources())
	if err != nil {
		return nil, err
	}
	d.m = m
	for _, s := range d.sources() {
		start := time.Now()
		if err := s.load(); err != nil {
			return nil, fmt.Errorf("geoip: %s-database %s: %w", s.role, s.path, err)
		}
		db := s.current.Load()
		r.Info("GeoIP database loaded", append(db.describe(s), "layout", db.layout.String(),
			"took", time.Since(start).Round(time.Millisecond))...)
	}
	return d, nil
}

// sources lists the distinct configured files.
func (d *DB) sources() []*source {
	var out []*source
	if d.geo != nil {
		out = append(out, d.geo)
	}
	if d.asn != nil && d.asn != d.geo {
		out = append(out, d.asn)
	}
	return out
}

// Lookup fills out for a (an IPv4-mapped IPv6 address is looked up as
// IPv4). IPv4 addresses are answered by the database's flattened IPv4
// table, IPv6 ones by a walk of its tree. The geo database answers country
// and city, the ASN database AS number and organisation; a field the
// preferred database leaves empty is taken from the other one. It is safe
// for concurrent use and does not allocate once the records it meets are
// cached.
func (d *DB) Lookup(a netip.Addr, out *Result) {
	*out = Result{}
	if (d.geo == nil && d.asn == nil) || !a.IsValid() {
		return
	}
	ans := d.Find(a)
	d.Count(ans)
	ans.Fill(out)
}

// Answer is what the databases list for one address: each database's
// record, shared by every lookup that meets it and never modified; nil
// when the database is off, lists no network for the address, or its
// record could not be read. When one file serves both, Geo and ASN are
// the same record.
type Answer struct {
	Geo, ASN *Result
	// unreadable has bit 0 set when the geo database's record could not
	// be read, bit 1 for the ASN database's: a decode error (counted as
	// such), not a miss.
	unreadable uint8
}

// Cacheable reports whether the answer may be kept for its address: not
// when a record could not be read (the next lookup tries again).
func (ans Answer) Cacheable() bool { return ans.unreadable == 0 }

// Find is Lookup for a caller that caches answers by address itself (the
// enricher): it counts nothing; Count counts each answer used, found here
// or in the caller's cache. Safe for concurrent use; it does not allocate
// once the records it meets are cached.
func (d *DB) Find(a netip.Addr) Answer {
	var ans Answer
	if !a.IsValid() {
		return ans
	}
	a = a.Unmap()
	if d.geo != nil {
		var ok bool
		if ans.Geo, ok = d.geo.find(a); !ok {
			ans.unreadable |= 1
		}
	}
	switch {
	case d.asn == d.geo:
		ans.ASN = ans.Geo
	case d.asn != nil:
		var ok bool
		if ans.ASN, ok = d.asn.find(a); !ok {
			ans.unreadable |= 2
		}
	}
	return ans
}

// Count counts an answer as one lookup, and a miss of each configured
// database that lists no network for the address (as Lookup does).
func (d *DB) Count(ans Answer) {
	var c Counts
	c.Add(d, ans)
	d.AddCounts(c)
}

// Counts gathers the counts of many answers, for a caller that adds them
// to the metrics once per batch (AddCounts) rather than at every lookup:
// each metric is an atomic add shared by every goroutine.
type Counts struct {
	lookups, geoMisses, asnMisses int
}

// Add counts ans as Count would.
func (c *Counts) Add(d *DB, ans Answer) {
	c.lookups++
	if d.geo != nil && ans.Geo == nil && ans.unreadable&1 == 0 && d.geo.current.Load() != nil {
		c.geoMisses++
	}
	if d.asn != nil && d.asn != d.geo && ans.ASN == nil && ans.unreadable&2 == 0 && d.asn.current.Load() != nil {
		c.asnMisses++
	}
}

// AddCounts adds c to the metrics.
func (d *DB) AddCounts(c Counts) {
	if c.lookups > 0 {
		d.m.lookups.Add(float64(c.lookups))
	}
	if c.geoMisses > 0 {
		d.geo.m.misses.Add(float64(c.geoMisses))
	}
	if c.asnMisses > 0 {
		d.asn.m.misses.Add(float64(c.asnMisses))
	}
}

// Fill merges an answer: the geo database answers country and city, the
// ASN database AS number and organisation, and a field the preferred
// database leaves empty is taken from the other one.
func (ans Answer) Fill(out *Result) {
	out.Country, out.City, out.ASN, out.ASName = ans.Fields()
}

// Fields is Fill's answer without a Result to fill: it reads the records
// in place, for a caller on the per-record path.
func (ans Answer) Fields() (country, city string, asn uint32, asName string) {
	geo, as := ans.Geo, ans.ASN
	if geo != nil {
		country, city = geo.Country, geo.City
	}
	if as != nil {
		if country == "" {
			country = as.Country
		}
		if city == "" {
			city = as.City
		}
		asn, asName = as.ASN, as.ASName
	}
	if asn == 0 && asName == "" && geo != nil {
		asn, asName = geo.ASN, geo.ASName
	}
	return country, city, asn, asName
}

// Version changes whenever a database is loaded, replaced or closed: an
// Answer cached by a caller belongs to one version. It only grows.
func (d *DB) Version() uint64 {
	var v uint64
	if d.geo != nil {
		v += d.geo.swaps.Load()
	}
	if d.asn != nil && d.asn != d.geo {
		v += d.asn.swaps.Load()
	}
	return v
}

// find is the source's record for a, nil when there is none; false when
// the record could not be read (counted as a decode error).
func (s *source) find(a netip.Addr) (*Result, bool) {
	db := s.current.Load()
	if db == nil {
		return nil, true
	}
	switch record := db.walk(a, &s.m); record {
	case nil:
		return nil, false
	case notFound:
		return nil, true
	default:
		return &record.result, true
	}
}

// walk looks a up (in the IPv4 table, or the tree) and returns its decoded
// record, notFound, or nil when the record could not be read.
func (db *database) walk(a netip.Addr, m *sourceMetrics) *cachedRecord {
	if a.Is4() {
		return db.ipv4.find(a, m)
	}
	if db.reader.Metadata.IPVersion == 4 {
		return notFound // an IPv4-only database lists no IPv6 network
	}
	res := db.reader.Lookup(a)
	if res.Err() != nil {
		m.decodeErrors.Inc()
		return nil
	}
	if !res.Found() {
		return notFound
	}
	offset := res.Offset()
	if cached := db.records.get(offset); cached != nil {
		return cached
	}
	decoded, err := db.layout.decode(res)
	if err != nil {
		m.decodeErrors.Inc()
		return nil
	}
	return db.records.put(offset, decoded)
}

// Start looks for replaced files every check-interval until Stop.
func (d *DB) Start(context.Context) error {
	d.reloads.Start(d.run)
	return nil
}

// Stop ends the checks and drops the databases; later lookups find
// nothing.
func (d *DB) Stop(ctx context.Context) error {
	err := d.reloads.Stop(ctx)
	d.close()
	if err != nil {
		return fmt.Errorf("geoip: %w", err)
	}
	return nil
}

// run looks for replaced files every check-interval until ctx ends.
func (d *DB) run(ctx context.Context) error {
	sources := d.sources()
	if len(sources) == 0 {
		<-ctx.Done()
		return nil
	}
	tick := time.NewTicker(d.cfg.CheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			d.check(sources)
		}
	}
}

// check is one tick of run: each source is reloaded if its file changed.
// Tests call it, once run has returned, to force a check.
func (d *DB) check(sources []*source) {
	for _, s := range sources {
		d.reloadIfChanged(s)
	}
}

// reloadIfChanged loads the file when its stamp differs from the one last
// tried. A file still being written (its stamp moved while it was read) is
// tried again at the next check without being reported.
func (d *DB) reloadIfChanged(s *source) {
	stamp, err := filestamp.Of(s.path)
	if err != nil {
		if s.seen != (filestamp.Stamp{}) {
			s.seen = filestamp.Stamp{}
			s.m.reloadsFailed.Inc()
			d.limiter.Log(d.r.Logger, "reload-"+s.role, "GeoIP database unreadable; keeping the loaded one",
				"key", s.role+"-database", "file", s.path, "error", err)
		}
		return
	}
	if stamp == s.seen {
		return
	}
	start := time.Now()
	err = s.load()
	switch {
	case errors.Is(err, filestamp.ErrChanging):
		return
	case err != nil:
		s.m.reloadsFailed.Inc()
		d.limiter.Log(d.r.Logger, "reload-"+s.role, "GeoIP database replacement refused; keeping the loaded one",
			"key", s.role+"-database", "file", s.path, "error", err)
	default:
		d.r.Info("GeoIP database reloaded", append(s.current.Load().describe(s), "took", time.Since(start).Round(time.Millisecond))...)
	}
}

// describe is what the load and reload logs say of a database: with a
// GeoLite2-City-sized file, flattening the IPv4 networks takes about a
// second and some 60 MiB, which an operator may want to see.
func (db *database) describe(s *source) []any {
	return []any{"key", s.role + "-database", "file", s.path,
		"database_type", db.reader.Metadata.DatabaseType,
		"build_time", db.reader.Metadata.BuildTime().UTC(),
		"ipv4_ranges", db.ipv4.networks.Spans(), "ipv4_records", len(db.ipv4.records)}
}

// load reads the whole file into memory rather than mapping it: a file
// rewritten in place under a mapping would change (or, truncated, crash)
// the database in use. The new database is probed before it replaces the
// old one, which the garbage collector frees once no lookup holds it.
func (s *source) load() error {
	data, stamp, err := filestamp.Read(s.path)
	if err != nil {
		return err
	}
	s.seen = stamp
	reader, err := maxminddb.OpenBytes(data)
	if err != nil {
		return err
	}
	l, err := detectLayout(reader.Metadata.DatabaseType)
	if err != nil {
		return err
	}
	if err := probe(reader, l); err != nil {
		return err
	}
	ipv4, err := flattenIPv4(reader, l)
	if err != nil {
		return err
	}
	s.current.Store(&database{reader: reader, layout: l, ipv4: ipv4,
		records: newRecordCache(cacheSlots)})
	s.swaps.Add(1)
	s.m.reloadsOK.Inc()
	s.m.buildEpoch.Set(float64(reader.Metadata.BuildEpoch))
	return nil
}

// probeNetworks is how many records probe decodes.
const probeNetworks = 1000

// probe decodes the first records of the tree with the layout, to refuse a
// file whose tree or data is corrupt, or whose records are not shaped as
// its database_type says. Reader.Verify would check everything but also
// refuses files for harmless metadata omissions (an empty description)
// and walks the whole file.
func probe(reader *maxminddb.Reader, l layout) error {
	n := 0
	for res := range reader.Networks() {
		if err := res.Err(); err != nil {
			return fmt.Errorf("corrupt search tree: %w", err)
		}
		if _, err := l.decode(res); err != nil {
			return fmt.Errorf("record of %s unreadable as the %s layout: %w", res.Prefix(), l, err)
		}
		if n++; n == probeNetworks {
			break
		}
	}
	if n == 0 {
		return errors.New("database lists no network")
	}
	return nil
}

// close drops the databases; later lookups find nothing.
func (d *DB) close() {
	for _, s := range d.sources() {
		s.current.Store(nil)
		s.swaps.Add(1)
	}
}
