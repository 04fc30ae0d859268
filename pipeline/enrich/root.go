// Package enrich adds what a flow record does not carry: exporter and
// interface names and roles, your networks' names and the traffic
// direction, GeoIP and AS organisations, threat-intelligence tags, the
// service name, the Community ID, and the operator's own rules.
//
// Enrichment never holds or drops a record because a source is missing or
// failing (only a rule drops, when told to): a record is written with what
// is known, and the misses are counted. The per-record path allocates
// nothing; tables are replaced whole, atomically, when their files change,
// so ingestion never waits on a reload.
package enrich

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"github.com/gaissmai/bart"
	"github.com/prometheus/client_golang/prometheus"

	"sluice/internal/background"
	"sluice/internal/component"
	"sluice/internal/reporter"
	"sluice/pipeline/enrich/filestamp"
	"sluice/pipeline/enrich/geoip"
	"sluice/pipeline/enrich/snmp"
	"sluice/pipeline/enrich/threat"
	"sluice/pipeline/record"
	"sluice/pipeline/reference"
)

// sources are the optional enrichment sources with a life of their own
// (background polling, file reloads); nil leaves a source out.
type sources struct {
	snmp   *snmp.Poller
	geo    *geoip.DB
	threat *threat.Set
	// feedBits translates the threat set's feed bits (config order) into
	// the record's feed registry.
	feedBits [record.MaxFeeds]record.FeedSet
}

// Enricher enriches records in place. Process is safe for concurrent use.
type Enricher struct {
	r   *reporter.Reporter
	cfg Config
	src sources

	exporters  *bart.Table[*exporterAttrs]
	interfaces *bart.Table[map[uint32]*ifaceAttrs]
	own        *bart.Lite
	networks   atomic.Pointer[networkTable]
	// networksVersion counts the networks tables swapped in; with the
	// threat set's version it makes the address cache's generation.
	networksVersion atomic.Uint64
	addresses       *addressCache
	// cacheUseful is whether the lookups through the address cache last
	// judged (judgeCache) found it worth it; cacheBypassed counts the
	// batches since.
	cacheUseful               atomic.Bool
	cacheBypassed             atomic.Uint64
	judgedHits, judgedLookups atomic.Int64
	// networksStamp is the networks file's stamp when last read.
	networksStamp filestamp.Stamp
	services      *serviceTable
	rules         []*rule

	m       metrics
	limiter *reporter.Limiter
	// reloads watches the networks file between Start and Stop.
	reloads background.Work
}

// Dependencies is what an Enricher is handed.
type Dependencies struct {
	// StateDir keeps what the sources persist (the SNMP cache, the last
	// good copy of each threat feed).
	StateDir string
}

type exporterAttrs struct {
	name, group, role, site, region, tenant string
}

type ifaceAttrs struct {
	name, description      string
	speed                  uint64
	boundary               record.Boundary
	provider, connectivity string
}

// New builds the enricher and its sources; deps.StateDir keeps what they
// persist (the SNMP cache). The inline tables are built here; the networks
// file is read once (an unreadable file is an error at start, and only a
// logged, counted one on reload).
func New(r *reporter.Reporter, cfg Config, deps Dependencies) (*Enricher, error) {
	r = r.Package()
	stateDir := deps.StateDir
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withIPv4Unmapped()
	e := &Enricher{r: r, cfg: cfg, limiter: r.NewLimiter(5, time.Minute), addresses: newAddressCache(addressSlots)}
	e.cacheUseful.Store(true)
	if err := e.registerMetrics(); err != nil {
		return nil, err
	}
	if cfg.SNMP.Enabled {
		poller, err := snmp.New(r, cfg.SNMP, snmp.Dependencies{StateDir: stateDir})
		if err != nil {
			return nil, fmt.Errorf("enrich: snmp: %w", err)
		}
		e.src.snmp = poller
	}
	if cfg.GeoIP.GeoDatabase != "" || cfg.GeoIP.ASNDatabase != "" {
		db, err := geoip.New(r, cfg.GeoIP, geoip.Dependencies{})
		if err != nil {
			return nil, fmt.Errorf("enrich: geoip: %w", err)
		}
		e.src.geo = db
	}
	if len(cfg.Threat.Feeds) > 0 {
		set, err := threat.New(r, cfg.Threat, threat.Dependencies{OwnNetworks: cfg.OwnNetworks, StateDir: stateDir})
		if err != nil {
			return nil, fmt.Errorf("enrich: threat: %w", err)
		}
		for i, name := range set.FeedNames() {
			bit, ok := record.RegisterFeed(name)
			if !ok {
				return nil, fmt.Errorf("enrich: threat.feeds[%d].name: %q: more than %d feeds, or longer than %d bytes", i, name, record.MaxFeeds, record.MaxFeedNameLen)
			}
			e.src.feedBits[i] = bit
		}
		e.src.threat = set
	}

	e.exporters = new(bart.Table[*exporterAttrs])
	for _, x := range cfg.Exporters {
		e.exporters.Insert(x.Prefix.Masked(), &exporterAttrs{x.Name, x.Group, x.Role, x.Site, x.Region, x.Tenant})
	}
	e.interfaces = buildInterfaces(cfg.Interfaces)
	e.own = new(bart.Lite)
	for _, p := range cfg.OwnNetworks {
		e.own.Insert(p.Masked())
	}
	var fromFile []NetworkEntry
	if cfg.Networks.File != "" {
		var err error
		if fromFile, e.networksStamp, err = readNetworksFile(cfg.Networks.File); err != nil {
			return nil, fmt.Errorf("enrich: networks.file: %w", err)
		}
	}
	e.setNetworks(buildNetworks(cfg.Networks.Entries, fromFile))
	if cfg.Services {
		e.services = newServiceTable(reference.Services())
	}
	for i, rc := range cfg.Rules {
		compiled, err := compileRule(rc)
		if err != nil { // Validate compiled it already
			return nil, fmt.Errorf("enrich: rules[%d]: %w", i, err)
		}
		// The series exist from the start, so a rule that never matched
		// shows 0.
		compiled.matched = e.m.ruleMatches.WithLabelValues(rc.Name)
		compiled.dropped = e.m.dropped.WithLabelValues(rc.Name)
		compiled.failed = e.m.ruleErrors.WithLabelValues(rc.Name)
		e.rules = append(e.rules, compiled)
	}
	return e, nil
}

// buildInterfaces indexes the configured interfaces by exporter prefix.
// Each prefix's map also holds the entries of the prefixes covering it (the
// more specific entry wins), so one longest-prefix match finds every entry
// that applies to an exporter.
func buildInterfaces(list []InterfaceConfig) *bart.Table[map[uint32]*ifaceAttrs] {
	byPrefix := map[netip.Prefix]map[uint32]*ifaceAttrs{}
	for _, c := range list {
		p := c.Exporter.Masked()
		if byPrefix[p] == nil {
			byPrefix[p] = map[uint32]*ifaceAttrs{}
		}
		boundary, _ := parseBoundary(c.Boundary) // checked by Validate
		byPrefix[p][c.Index] = &ifaceAttrs{c.Name, c.Description, c.Speed, boundary, c.Provider, c.Connectivity}
	}
	prefixes := make([]netip.Prefix, 0, len(byPrefix))
	for p := range byPrefix {
		prefixes = append(prefixes, p)
	}
	// Shorter prefixes first, so a prefix's covering ones are in the
	// table when it is inserted.
	sortPrefixesByLength(prefixes)
	t := new(bart.Table[map[uint32]*ifaceAttrs])
	for _, p := range prefixes {
		merged := map[uint32]*ifaceAttrs{}
		if parent, ok := t.LookupPrefix(p); ok {
			for idx, a := range parent {
				merged[idx] = a
			}
		}
		for idx, a := range byPrefix[p] {
			merged[idx] = a
		}
		t.Insert(p, merged)
	}
	return t
}

func (e *Enricher) setNetworks(t *networkTable) {
	e.networks.Store(t)
	e.networksVersion.Add(1)
	e.m.networks.Set(float64(t.size()))
}

// Process enriches flows in place and moves the records rules keep to the
// front; it returns how many there are.
func (e *Enricher) Process(flows []record.Flow) int {
	kept := 0
	var misses batchCounts
	var exp exporterCache
	// Read before any table is: an entry cached from a table swapped in
	// meanwhile gets the older generation, and is only ever a miss.
	pass := cachePass{gen: e.generation(), on: e.cacheUseful.Load() || e.cacheBypassed.Add(1)%cacheRetryEvery == 0}
	for i := range flows {
		f := &flows[i]
		if !e.enrich(f, pass, &exp, &misses) {
			continue
		}
		if kept != i {
			flows[kept] = *f
		}
		kept++
	}
	e.m.records.Add(float64(len(flows)))
	if pass.on {
		e.judgeCache(misses.cacheHit, misses.cacheHit+misses.cacheMiss)
	}
	misses.flush(&e.m)
	if e.src.geo != nil {
		e.src.geo.AddCounts(misses.geo)
	}
	return kept
}

// The address cache pays only when addresses repeat: when they do not
// (traffic spread over more addresses than it holds, a scan), probing and
// filling it costs more than the lookups it saves. Every cacheJudgeLookups
// lookups through it (one batch or several small ones), fewer than
// cacheMinHitPercent hits turn it off, more turn it on; while off, one
// batch in cacheRetryEvery uses it again, to see whether that changed.
const (
	cacheJudgeLookups  = 256
	cacheMinHitPercent = 30
	cacheRetryEvery    = 8
)

// judgeCache adds a batch's use of the address cache, and decides whether
// to keep using it once enough lookups are in. Concurrent batches may both
// decide; either answer is recent.
func (e *Enricher) judgeCache(hits, lookups int) {
	total := e.judgedLookups.Add(int64(lookups))
	hit := e.judgedHits.Add(int64(hits))
	if total < cacheJudgeLookups {
		return
	}
	e.judgedLookups.Add(-total)
	e.judgedHits.Add(-hit)
	e.cacheUseful.Store(hit*100 >= total*cacheMinHitPercent)
}

// cachePass is how one batch uses the address cache.
type cachePass struct {
	gen uint64 // the tables' generation (Enricher.generation)
	on  bool
}

// generation identifies the networks, threat and GeoIP tables in use (each
// is replaced whole on reload): the address cache keeps facts per
// generation. It is the sum of their versions, which only grow, so it only
// grows too: once every table swapped in has been counted, no entry made
// from an older table carries the current generation.
func (e *Enricher) generation() uint64 {
	gen := e.networksVersion.Load()
	if e.src.threat != nil {
		gen += e.src.threat.Version()
	}
	if e.src.geo != nil {
		gen += e.src.geo.Version()
	}
	return gen
}

// facts returns what the networks, own-networks, threat and GeoIP tables say of
// a, from the address cache when it holds a for this generation.
func (e *Enricher) facts(a *record.Addr, nets *networkTable, pass cachePass, l *batchCounts) addressFacts {
	var hi, lo uint64
	if pass.on {
		hi, lo = addressKey(a)
		if facts, ok := e.addresses.get(hi, lo, pass.gen); ok {
			l.cacheHit++
			return facts
		}
		l.cacheMiss++
	}
	addr := a.Netip()
	facts := addressFacts{net: nets.lookup(addr), own: e.own.Lookup(addr)}
	if e.src.threat != nil {
		facts.feeds = e.src.threat.Lookup(addr)
	}
	if e.src.geo != nil {
		facts.geo = e.src.geo.Find(addr)
	}
	if pass.on && facts.geo.Cacheable() {
		e.addresses.put(hi, lo, pass.gen, facts)
	}
	return facts
}

// noNetwork is the attributes of an address in no configured network.
var noNetwork netAttrs

func (l *batchCounts) count(hit bool) {
	if hit {
		l.netHit++
	} else {
		l.netMiss++
	}
}

// batchCounts gathers a batch's counts, added to the metrics once per
// batch: a Prometheus counter is an atomic add, shared by every pipeline
// goroutine.
type batchCounts struct {
	netHit, netMiss, exporter, in, out int
	cacheHit, cacheMiss                int
	geo                                geoip.Counts
}

func (l *batchCounts) flush(m *metrics) {
	addCount(m.netHit, l.netHit)
	addCount(m.netMiss, l.netMiss)
	addCount(m.exporterMiss, l.exporter)
	addCount(m.inMiss, l.in)
	addCount(m.outMiss, l.out)
	addCount(m.cacheHit, l.cacheHit)
	addCount(m.cacheMiss, l.cacheMiss)
}

// addCount adds n to c, skipping the shared atomic add when n is 0.
func addCount(c prometheus.Counter, n int) {
	if n > 0 {
		c.Add(float64(n))
	}
}

// exporterCache keeps the configuration found for the last exporter of a
// batch: a collector's batch holds one worker's exporters, often a single
// one, so most records skip both prefix lookups.
type exporterCache struct {
	valid      bool
	addr       record.Addr
	attrs      *exporterAttrs
	interfaces map[uint32]*ifaceAttrs
	snmpName   string // the SNMP sysName, when no name is configured
}

func (c *exporterCache) lookup(e *Enricher, a record.Addr, exporter netip.Addr) *exporterCache {
	if !c.valid || c.addr != a {
		c.valid, c.addr = true, a
		c.attrs, _ = e.exporters.Lookup(exporter)
		c.interfaces, _ = e.interfaces.Lookup(exporter)
		c.snmpName = ""
		if (c.attrs == nil || c.attrs.name == "") && e.src.snmp != nil {
			c.snmpName, _ = e.src.snmp.ExporterName(exporter)
		}
	}
	return c
}

// enrich fills one record; false means a rule dropped it.
func (e *Enricher) enrich(f *record.Flow, pass cachePass, exp *exporterCache, misses *batchCounts) bool {
	exporter := f.ExporterAddress.Netip()
	cached := exp.lookup(e, f.ExporterAddress, exporter)
	x, ifaces := cached.attrs, cached.interfaces

	// Exporter: configuration, then SNMP's sysName for the name.
	if x != nil {
		f.ExporterName, f.ExporterGroup, f.ExporterRole = x.name, x.group, x.role
		f.ExporterSite, f.ExporterRegion, f.ExporterTenant = x.site, x.region, x.tenant
	}
	if f.ExporterName == "" {
		f.ExporterName = cached.snmpName
	}
	if f.ExporterName == "" {
		misses.exporter++
	}

	// Interfaces: configuration wins over options templates (already on
	// the record) and SNMP.
	if !e.enrichInterface(f, exporter, ifaces, f.InIfIndex, &f.InIfName, &f.InIfDescription, &f.InIfSpeed, &f.InIfBoundary, &f.InIfProvider, &f.InIfConnectivity) {
		misses.in++
	}
	if !e.enrichInterface(f, exporter, ifaces, f.OutIfIndex, &f.OutIfName, &f.OutIfDescription, &f.OutIfSpeed, &f.OutIfBoundary, &f.OutIfProvider, &f.OutIfConnectivity) {
		misses.out++
	}

	// Networks, direction and threat feeds.
	nets := e.networks.Load()
	srcFacts, dstFacts := e.facts(&f.SrcAddr, nets, pass, misses), e.facts(&f.DstAddr, nets, pass, misses)
	// Each stage sets its columns, found or not: a record enriched twice
	// (replayed, or enriched upstream) ends the same.
	n := srcFacts.net
	misses.count(n != nil)
	if n == nil {
		n = &noNetwork
	}
	f.SrcNetName, f.SrcNetRole, f.SrcNetSite, f.SrcNetRegion, f.SrcNetTenant = n.name, n.role, n.site, n.region, n.tenant
	n = dstFacts.net
	misses.count(n != nil)
	if n == nil {
		n = &noNetwork
	}
	f.DstNetName, f.DstNetRole, f.DstNetSite, f.DstNetRegion, f.DstNetTenant = n.name, n.role, n.site, n.region, n.tenant
	if len(e.cfg.OwnNetworks) > 0 {
		f.TrafficDirection = direction(srcFacts.own, dstFacts.own)
	}
	if e.src.threat != nil {
		f.SrcThreatFeeds = e.feeds(srcFacts.feeds)
		f.DstThreatFeeds = e.feeds(dstFacts.feeds)
	}

	if e.src.geo != nil {
		misses.geo.Add(e.src.geo, srcFacts.geo)
		misses.geo.Add(e.src.geo, dstFacts.geo)
		geo(srcFacts.geo, &f.SrcCountry, &f.SrcGeoCity, &f.SrcAS, &f.SrcASName)
		geo(dstFacts.geo, &f.DstCountry, &f.DstGeoCity, &f.DstAS, &f.DstASName)
	}

	if e.services != nil {
		f.ServiceName = e.serviceName(f)
	}
	if e.cfg.CommunityID.Enabled {
		f.CommunityID, _ = communityID(f, e.cfg.CommunityID.Seed)
	}

	for _, r := range e.rules {
		ok, err := r.matches(f)
		if err != nil {
			r.failed.Inc()
			e.limiter.Log(e.r.Logger, "rule:"+r.name, "enrichment rule failed; skipped for this record", "rule", r.name, "error", err)
			continue
		}
		if !ok {
			continue
		}
		r.matched.Inc()
		if r.drop {
			r.dropped.Inc()
			return false
		}
		for _, a := range r.sets {
			a.apply(f)
		}
	}
	return true
}

// enrichInterface fills one side's interface columns; it reports false
// when the interface is left without a name.
func (e *Enricher) enrichInterface(f *record.Flow, exporter netip.Addr, configured map[uint32]*ifaceAttrs, index uint32,
	name, description *string, speed *uint64, boundary *record.Boundary, provider, connectivity *string) bool {
	if index == 0 {
		return true // no interface: nothing to name
	}
	if a, ok := configured[index]; ok {
		if a.name != "" {
			*name = a.name
		}
		if a.description != "" {
			*description = a.description
		}
		if a.speed != 0 {
			*speed = a.speed
		}
		*boundary, *provider, *connectivity = a.boundary, a.provider, a.connectivity
	}
	if (*name == "" || *speed == 0) && e.src.snmp != nil {
		if polled, ok := e.src.snmp.Interface(exporter, index); ok {
			if *name == "" {
				*name = polled.Name
			}
			if *description == "" {
				*description = polled.Description
			}
			if *speed == 0 {
				*speed = polled.Speed
			}
		}
	}
	return *name != ""
}

// geo fills one side's GeoIP columns. The AS number comes from the
// database only when the exporter sent none; the AS name only when it
// names the record's AS.
func geo(ans geoip.Answer, country, city *string, as *uint32, asName *string) {
	var asn uint32
	var name string
	*country, *city, asn, name = ans.Fields()
	if *as == 0 {
		*as = asn
	}
	if asn != 0 && asn == *as {
		*asName = name
	}
}

// feeds counts a threat-set match and translates it into the record's
// feed bits.
func (e *Enricher) feeds(mask uint64) record.FeedSet {
	if mask == 0 {
		return 0
	}
	e.src.threat.CountMatches(mask)
	var set record.FeedSet
	for mask != 0 {
		i := bits.TrailingZeros64(mask)
		mask &^= 1 << i
		set |= e.src.feedBits[i]
	}
	return set
}

// direction classifies a flow by which of its ends are your networks.
func direction(srcOwn, dstOwn bool) record.TrafficDirection {
	switch {
	case srcOwn && dstOwn:
		return record.DirectionInternal
	case srcOwn:
		return record.DirectionOutbound
	case dstOwn:
		return record.DirectionInbound
	}
	return record.DirectionTransit
}

// serviceTable names services by protocol and port with one array index
// per lookup: every record asks twice.
type serviceTable struct {
	names []string // index 0 is ""
	// byPort[proto][port] indexes names, for TCP, UDP and SCTP.
	byPort [3][65536]uint16
}

func newServiceTable(known map[reference.ServiceKey]string) *serviceTable {
	t := &serviceTable{names: []string{""}}
	index := map[string]uint16{}
	for k, name := range known {
		slot := protoSlot(k.Proto)
		if slot < 0 {
			continue
		}
		i, ok := index[name]
		if !ok {
			i = uint16(len(t.names))
			t.names = append(t.names, name)
			index[name] = i
		}
		t.byPort[slot][k.Port] = i
	}
	return t
}

func protoSlot(proto uint8) int {
	switch proto {
	case protoTCP:
		return 0
	case protoUDP:
		return 1
	case protoSCTP:
		return 2
	}
	return -1
}

// serviceName names the service of a TCP, UDP or SCTP flow by its
// well-known port: the destination's, else the source's (the answer of a
// flow to that port), the lower port when both are known, since servers
// sit on the lower ports.
func (e *Enricher) serviceName(f *record.Flow) string {
	slot := protoSlot(f.Proto)
	if slot < 0 {
		return ""
	}
	ports := &e.services.byPort[slot]
	dst, src := ports[f.DstPort], ports[f.SrcPort]
	switch {
	case dst != 0 && src != 0 && f.SrcPort < f.DstPort:
		return e.services.names[src]
	case dst != 0:
		return e.services.names[dst]
	}
	return e.services.names[src]
}

// Start starts the sources' background work (SNMP polling, GeoIP and feed
// reloads) and the networks file's reloads, until Stop.
func (e *Enricher) Start(ctx context.Context) error {
	for i, c := range e.src.list() {
		if err := c.Start(ctx); err != nil {
			return errors.Join(fmt.Errorf("enrich: %w", err), e.stopSources(ctx, i))
		}
	}
	e.reloads.Start(e.reloadNetworks)
	return nil
}

// Stop ends the background work and waits for it: the SNMP cache is
// saved, the GeoIP databases dropped.
func (e *Enricher) Stop(ctx context.Context) error {
	err := e.reloads.Stop(ctx)
	return errors.Join(err, e.stopSources(ctx, len(e.src.list())))
}

// stopSources stops the first n sources, in reverse.
func (e *Enricher) stopSources(ctx context.Context, n int) error {
	list := e.src.list()
	var errs []error
	for i := n - 1; i >= 0; i-- {
		if err := list[i].Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("enrich: %w", err))
		}
	}
	return errors.Join(errs...)
}

// list is the sources configured, each with a lifecycle.
func (s *sources) list() []component.Component {
	var out []component.Component
	if s.snmp != nil {
		out = append(out, s.snmp)
	}
	if s.geo != nil {
		out = append(out, s.geo)
	}
	if s.threat != nil {
		out = append(out, s.threat)
	}
	return out
}

// reloadNetworks reloads the networks file when it changes.
func (e *Enricher) reloadNetworks(ctx context.Context) error {
	path := e.cfg.Networks.File
	if path == "" {
		<-ctx.Done()
		return nil
	}
	last := e.networksStamp
	tick := time.NewTicker(e.cfg.Networks.CheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		stamp, err := filestamp.Of(path)
		if err != nil || stamp == last {
			if err != nil {
				e.limiter.Log(e.r.Logger, "networks-stat", "cannot read the networks file; keeping the current table", "file", path, "error", err)
			}
			continue
		}
		entries, read, err := readNetworksFile(path)
		if errors.Is(err, filestamp.ErrChanging) {
			continue // being written: read it whole at the next check
		}
		if err != nil {
			e.m.reloads.WithLabelValues("failed").Inc()
			e.limiter.Log(e.r.Logger, "networks-reload", "networks file not reloaded; keeping the current table", "error", err)
			last = stamp // do not retry a broken file until it changes again
			continue
		}
		e.setNetworks(buildNetworks(e.cfg.Networks.Entries, entries))
		e.m.reloads.WithLabelValues("ok").Inc()
		e.r.Info("networks file reloaded", "file", path, "networks", len(entries))
		last = read
	}
}

// sortPrefixesByLength orders prefixes shortest first.
func sortPrefixesByLength(prefixes []netip.Prefix) {
	slices.SortFunc(prefixes, func(a, b netip.Prefix) int { return a.Bits() - b.Bits() })
}
