package enrich

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"sluice/internal/reporter"
	"sluice/internal/testenv"
	"sluice/pipeline/enrich/geoip/geoiptest"
	"sluice/pipeline/enrich/threat"
	"sluice/pipeline/record"
)

func addr(s string) record.Addr { return record.Addr(netip.MustParseAddr(s).As16()) }

func newTestReporter(t testing.TB) *reporter.Reporter {
	t.Helper()
	return reporter.New(slog.New(slog.NewTextHandler(t.Output(), nil)))
}

// start starts the enricher's background work until the test ends.
func start(t testing.TB, e *Enricher) {
	t.Helper()
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
}

func newEnricher(t testing.TB, cfg Config) *Enricher {
	t.Helper()
	e, err := New(newTestReporter(t), cfg, Dependencies{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// The vectors of the Community ID specification (its baseline, also in
// Zeek's tests), with seeds 0 and 1, for both directions of each flow.
func TestCommunityIDSpecVectors(t *testing.T) {
	tcp := record.Flow{SrcAddr: addr("::ffff:1.2.3.4"), DstAddr: addr("::ffff:5.6.7.8"), SrcPort: 1122, DstPort: 3344, Proto: 6}
	udp := tcp
	udp.Proto = 17
	icmp := record.Flow{SrcAddr: addr("::ffff:1.2.3.4"), DstAddr: addr("::ffff:5.6.7.8"), Proto: 1, ICMPType: 8}
	icmpReply := record.Flow{SrcAddr: addr("::ffff:5.6.7.8"), DstAddr: addr("::ffff:1.2.3.4"), Proto: 1, ICMPType: 0}
	icmp6 := record.Flow{SrcAddr: addr("fe80:1:203:405:607:809:a0b:c0d"), DstAddr: addr("fe80:1011:1213:1415:1617:1819:1a1b:1c1d"), Proto: 58, ICMPType: 128}
	icmp6Reply := record.Flow{SrcAddr: icmp6.DstAddr, DstAddr: icmp6.SrcAddr, Proto: 58, ICMPType: 129}
	rsvp := record.Flow{SrcAddr: addr("::ffff:1.2.3.4"), DstAddr: addr("::ffff:5.6.7.8"), Proto: 46}
	reverse := func(f record.Flow) record.Flow {
		f.SrcAddr, f.DstAddr, f.SrcPort, f.DstPort = f.DstAddr, f.SrcAddr, f.DstPort, f.SrcPort
		return f
	}
	for _, tc := range []struct {
		name string
		flow record.Flow
		seed uint16
		want string
	}{
		{"tcp", tcp, 0, "1:wCb3OG7yAFWelaUydu0D+125CLM="},
		{"tcp reversed", reverse(tcp), 0, "1:wCb3OG7yAFWelaUydu0D+125CLM="},
		{"udp", udp, 0, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="},
		{"udp reversed", reverse(udp), 0, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="},
		{"icmp echo", icmp, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="},
		{"icmp echo reply", icmpReply, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="},
		{"icmpv6 echo", icmp6, 0, "1:0bf7hyMJUwt3fMED7z8LIfRpBeo="},
		{"icmpv6 echo reply", icmp6Reply, 0, "1:0bf7hyMJUwt3fMED7z8LIfRpBeo="},
		{"rsvp, no ports", rsvp, 0, "1:ikv3kmf89luf73WPz1jOs49S768="},
		{"tcp seed 1", tcp, 1, "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk="},
		{"udp seed 1", udp, 1, "1:OShq+iKDAMVouh/4bMxB9Sz4amw="},
		{"icmp seed 1", icmp, 1, "1:9pr4ZGTICiuZoIh90RRYE2RyXpU="},
		{"icmpv6 seed 1", icmp6, 1, "1:IO27GQzPuCtNnwFvjWALMHu5tJE="},
	} {
		id, ok := communityID(&tc.flow, tc.seed)
		if !ok || id.String() != tc.want {
			t.Errorf("%s: got %q (%v), want %q", tc.name, id.String(), ok, tc.want)
		}
	}
	// Paths the vectors leave out, checked against the spec's rules: a
	// one-way ICMP type keeps its direction; equal addresses order by
	// port; SCTP has ports.
	unreachable := record.Flow{SrcAddr: addr("::ffff:5.6.7.8"), DstAddr: addr("::ffff:1.2.3.4"), Proto: 1, ICMPType: 3, ICMPCode: 1}
	swapped := unreachable
	swapped.SrcAddr, swapped.DstAddr = unreachable.DstAddr, unreachable.SrcAddr
	a, _ := communityID(&unreachable, 0)
	b, _ := communityID(&swapped, 0)
	if a == b {
		t.Error("a one-way ICMP type must not be ordered: both directions hashed the same")
	}
	same := record.Flow{SrcAddr: addr("::ffff:1.2.3.4"), DstAddr: addr("::ffff:1.2.3.4"), Proto: 17, SrcPort: 53, DstPort: 5353}
	sameReversed := same
	sameReversed.SrcPort, sameReversed.DstPort = same.DstPort, same.SrcPort
	a, _ = communityID(&same, 0)
	b, _ = communityID(&sameReversed, 0)
	if a != b {
		t.Error("equal addresses: the ports must order the endpoints")
	}
	sctp, udpSame := tcp, tcp
	sctp.Proto, udpSame.Proto = 132, 17
	sctpReversed := reverse(sctp)
	a, _ = communityID(&sctp, 0)
	b, _ = communityID(&sctpReversed, 0)
	c, _ := communityID(&udpSame, 0)
	if a != b || a == c {
		t.Error("SCTP: ports must enter the hash, both directions alike")
	}

	mixed := record.Flow{SrcAddr: addr("::ffff:1.2.3.4"), DstAddr: addr("2001:db8::1"), Proto: 6}
	if _, ok := communityID(&mixed, 0); ok {
		t.Error("a record mixing IPv4 and IPv6 must have no Community ID")
	}
}

func TestDirectionNetworksAndExporters(t *testing.T) {
	cfg := DefaultConfig()
	cfg.OwnNetworks = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	cfg.Networks.Entries = []NetworkEntry{
		{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Name: "corp", Tenant: "acme"},
		{Prefix: netip.MustParsePrefix("10.1.0.0/16"), Name: "dc-par", Site: "par1", Region: "eu", Role: "servers"},
		{Prefix: netip.MustParsePrefix("2001:db8:1::/48"), Name: "v6-lab", Site: "lab"},
	}
	cfg.Exporters = []ExporterConfig{
		{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Group: "edge"},
		{Prefix: netip.MustParsePrefix("192.0.2.1/32"), Name: "edge-1", Group: "edge", Site: "par1", Region: "eu", Tenant: "acme", Role: "border"},
	}
	e := newEnricher(t, cfg)
	flows := []record.Flow{
		{ExporterAddress: addr("::ffff:192.0.2.1"), SrcAddr: addr("::ffff:10.1.2.3"), DstAddr: addr("::ffff:198.51.100.7"), Proto: 6, SrcPort: 50000, DstPort: 443},
		{ExporterAddress: addr("::ffff:192.0.2.9"), SrcAddr: addr("::ffff:203.0.113.5"), DstAddr: addr("::ffff:10.9.9.9"), Proto: 17, SrcPort: 53, DstPort: 40000},
		{ExporterAddress: addr("::ffff:198.18.0.1"), SrcAddr: addr("2001:db8:1::1"), DstAddr: addr("2001:db8:2::1"), Proto: 6, SrcPort: 22, DstPort: 60000},
		{SrcAddr: addr("::ffff:203.0.113.5"), DstAddr: addr("::ffff:198.51.100.7"), Proto: 6, SrcPort: 40001, DstPort: 40002},
	}
	if n := e.Process(flows); n != len(flows) {
		t.Fatalf("kept %d records, want all %d", n, len(flows))
	}
	f := flows[0]
	if f.ExporterName != "edge-1" || f.ExporterRole != "border" || f.ExporterSite != "par1" || f.ExporterTenant != "acme" {
		t.Errorf("exporter /32 attributes: %+v", f)
	}
	if f.SrcNetName != "dc-par" || f.SrcNetSite != "par1" || f.SrcNetRole != "servers" || f.SrcNetTenant != "" || f.DstNetName != "" {
		t.Errorf("longest prefix match: src %q %q %q tenant %q, dst %q", f.SrcNetName, f.SrcNetSite, f.SrcNetRole, f.SrcNetTenant, f.DstNetName)
	}
	if f.TrafficDirection != record.DirectionOutbound || f.ServiceName != "https" || f.CommunityID.IsZero() {
		t.Errorf("direction %v service %q community %v", f.TrafficDirection, f.ServiceName, f.CommunityID)
	}
	f = flows[1]
	if f.ExporterName != "" || f.ExporterGroup != "edge" || f.DstNetName != "corp" || f.DstNetTenant != "acme" {
		t.Errorf("exporter /24 and network /8: %+v", f)
	}
	if f.TrafficDirection != record.DirectionInbound || f.ServiceName != "domain" {
		t.Errorf("direction %v service %q, want inbound domain (the answer of a DNS query)", f.TrafficDirection, f.ServiceName)
	}
	if f := flows[2]; f.TrafficDirection != record.DirectionInternal || f.SrcNetName != "v6-lab" || f.ServiceName != "ssh" {
		t.Errorf("IPv6: direction %v net %q service %q", f.TrafficDirection, f.SrcNetName, f.ServiceName)
	}
	if f := flows[3]; f.TrafficDirection != record.DirectionTransit || f.ServiceName != "" {
		t.Errorf("transit: direction %v service %q", f.TrafficDirection, f.ServiceName)
	}
	if got := testutil.ToFloat64(e.m.exporterMiss); got != 3 {
		t.Errorf("exporter name misses = %v, want 3", got)
	}
}

func TestNoOwnNetworksLeavesDirectionUnknown(t *testing.T) {
	e := newEnricher(t, DefaultConfig())
	flows := []record.Flow{{SrcAddr: addr("::ffff:10.0.0.1"), DstAddr: addr("::ffff:10.0.0.2")}}
	e.Process(flows)
	if flows[0].TrafficDirection != record.DirectionUnknown {
		t.Errorf("direction %v without own networks", flows[0].TrafficDirection)
	}
}

func TestInterfacesConfiguredWinAndInherit(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Interfaces = []InterfaceConfig{
		{Exporter: netip.MustParsePrefix("192.0.2.0/24"), Index: 1, Name: "uplink", Boundary: "external", Provider: "transit-a", Connectivity: "transit", Speed: 10e9},
		{Exporter: netip.MustParsePrefix("192.0.2.0/24"), Index: 2, Name: "lan", Boundary: "internal"},
		{Exporter: netip.MustParsePrefix("192.0.2.7/32"), Index: 1, Name: "ix-port", Boundary: "external", Connectivity: "ix"},
	}
	e := newEnricher(t, cfg)
	flows := []record.Flow{
		{ExporterAddress: addr("::ffff:192.0.2.7"), InIfIndex: 1, OutIfIndex: 2},
		{ExporterAddress: addr("::ffff:192.0.2.8"), InIfIndex: 1, OutIfIndex: 3, OutIfName: "from-options-template"},
	}
	e.Process(flows)
	if f := flows[0]; f.InIfName != "ix-port" || f.InIfConnectivity != "ix" || f.OutIfName != "lan" || f.OutIfBoundary != record.BoundaryInternal {
		t.Errorf("exporter /32 entries over the /24's: %+v", f)
	}
	if f := flows[1]; f.InIfName != "uplink" || f.InIfSpeed != 10e9 || f.InIfProvider != "transit-a" || f.InIfBoundary != record.BoundaryExternal || f.OutIfName != "from-options-template" {
		t.Errorf("exporter /24 entries: %+v", f)
	}
	if got := testutil.ToFloat64(e.m.interfaceMiss.WithLabelValues("out")); got != 0 {
		t.Errorf("out interface misses %v, want 0", got)
	}
}

func TestRules(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Rules = []RuleConfig{
		{Name: "drop-multicast", If: `inNet(DstAddr, "224.0.0.0/4")`, Drop: true},
		{Name: "transit", If: `InIfName startsWith "et-" && Bytes > 1000`, Set: map[string]string{"InIfBoundary": "external", "InIfConnectivity": "transit"}},
		{Name: "tag-all", Set: map[string]string{"ExporterTenant": "default"}},
	}
	e := newEnricher(t, cfg)
	flows := []record.Flow{
		{DstAddr: addr("::ffff:239.1.1.1"), Bytes: 5},
		{DstAddr: addr("::ffff:192.0.2.1"), InIfIndex: 1, InIfName: "et-0/0/1", Bytes: 5000},
		{DstAddr: addr("::ffff:192.0.2.1"), InIfIndex: 1, InIfName: "et-0/0/1", Bytes: 10},
	}
	n := e.Process(flows)
	if n != 2 {
		t.Fatalf("kept %d records, want 2", n)
	}
	if f := flows[0]; f.InIfBoundary != record.BoundaryExternal || f.InIfConnectivity != "transit" || f.ExporterTenant != "default" {
		t.Errorf("first kept record: %+v", f)
	}
	if f := flows[1]; f.InIfBoundary != record.BoundaryUndefined || f.ExporterTenant != "default" {
		t.Errorf("second kept record: %+v", f)
	}
	if got := testutil.ToFloat64(e.m.dropped.WithLabelValues("drop-multicast")); got != 1 {
		t.Errorf("dropped = %v", got)
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Rules = []RuleConfig{
		{Name: "a", If: "NoSuchColumn > 1", Drop: true},
		{Name: "a", Set: map[string]string{"InIfBoundary": "outside"}},
		{Name: "c", Set: map[string]string{"SrcAddr": "1.2.3.4"}},
		{Name: "d", If: `inNet(DstAddr, "10.0.0.0/33")`, Drop: true},
		{Name: "e", Set: map[string]string{"ExporterName": strings.Repeat("n", 256)}},
	}
	cfg.Interfaces = []InterfaceConfig{{Index: 1, Boundary: "edge"}}
	cfg.Exporters = []ExporterConfig{{Name: strings.Repeat("x", 300), Prefix: netip.MustParsePrefix("192.0.2.0/24")}}
	err := cfg.Validate()
	for _, want := range []string{
		"rules[0]: if:", "rules[1].name: \"a\" used twice", "rules[1]: set.InIfBoundary: \"outside\" is not a value",
		"rules[2]: set.SrcAddr: this column cannot be set", "interfaces[0].exporter: required", "interfaces[0].boundary",
		"exporters[0].name: longer than 255 bytes", "rules[3]: if: inNet:", "rules[4]: set.ExporterName: want UTF-8 of at most 255 bytes",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not contain %q", err, want)
		}
	}
}

func TestNetworksFiles(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"list.yaml": "- prefix: 10.1.0.0/16\n  name: dc\n  site: par1\n- prefix: 2001:db8::/32\n  name: v6\n",
		"map.yml":   "10.1.0.0/16:\n  name: dc\n  site: par1\n2001:db8::/32:\n  name: v6\n",
		"nets.csv":  "# exported from the IPAM\nprefix,site,name\n10.1.0.0/16,par1,dc\n2001:db8::/32,,v6\n",
	}
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		entries, _, err := readNetworksFile(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		table := buildNetworks(nil, entries)
		if table.size() != 2 {
			t.Errorf("%s: %d prefixes, want 2", name, table.size())
		}
		if n := table.lookup(netip.MustParseAddr("10.1.200.1")); n == nil || n.name != "dc" || n.site != "par1" {
			t.Errorf("%s: 10.1.200.1 → %+v", name, n)
		}
		if n := table.lookup(netip.MustParseAddr("2001:db8::99")); n == nil || n.name != "v6" {
			t.Errorf("%s: 2001:db8::99 → %+v", name, n)
		}
		if n := table.lookup(netip.MustParseAddr("10.2.0.1")); n != nil {
			t.Errorf("%s: 10.2.0.1 matched %+v", name, n)
		}
	}
	for name, content := range map[string]string{
		"bad.yaml":  "- prefix: 10.1.0.0/16\n  tennant: acme\n",
		"bad2.csv":  "prefix,name\n10.1.0.0/16,dc\nnot-a-prefix,x\n",
		"bad3.csv":  "prefix,owner\n",
		"nets.json": "{}",
	} {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(content), 0o600)
		_, _, err := readNetworksFile(path)
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v does not name the file", name, err)
		}
	}
}

// A networks file replaced while records flow is picked up without a
// restart, and a broken replacement keeps the table in use.
func TestNetworksFileReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "networks.csv")
	write := func(content string) { replaceFile(t, path, content) }
	write("prefix,name\n10.0.0.0/8,before\n")
	cfg := DefaultConfig()
	cfg.Networks.File = path
	cfg.Networks.CheckInterval = 10 * time.Millisecond
	e := newEnricher(t, cfg)
	start(t, e)

	name := func() string {
		flows := []record.Flow{{SrcAddr: addr("::ffff:10.1.1.1")}}
		e.Process(flows)
		return flows[0].SrcNetName
	}
	if got := name(); got != "before" {
		t.Fatalf("name %q", got)
	}
	write("prefix,name\n10.0.0.0/8,after-with-a-longer-name\n")
	testenv.Eventually(t, 30*time.Second, "the new name", func() bool { return name() == "after-with-a-longer-name" })
	write("prefix,name\nnot-a-prefix,x\n")
	testenv.Eventually(t, 30*time.Second, "a failed reload counted", func() bool { return testutil.ToFloat64(e.m.reloads.WithLabelValues("failed")) == 1 })
	if got := name(); got != "after-with-a-longer-name" {
		t.Errorf("after a broken file: %q", got)
	}
}

// replaceFile replaces path's content at once, as a deployment tool would.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// The per-record path allocates nothing, rules aside, with every source
// on: configured tables, GeoIP, threat feeds.
func TestProcessDoesNotAllocate(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.GeoIP.GeoDatabase = filepath.Join(dir, "city.mmdb")
	os.WriteFile(cfg.GeoIP.GeoDatabase, geoiptest.Build(t, "GeoLite2-City", 1, []geoiptest.Network{
		{CIDR: "81.2.69.0/24", Record: geoiptest.CityRecord("GB", "GB", "London")},
	}), 0o600)
	cfg.Threat.Feeds = []threat.FeedConfig{{Name: "test", Format: "plain", File: filepath.Join(dir, "feed.txt")}}
	os.WriteFile(cfg.Threat.Feeds[0].File, []byte("81.2.69.0/24\n"), 0o600)
	cfg.OwnNetworks = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	cfg.Networks.Entries = []NetworkEntry{{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Name: "corp"}}
	cfg.Exporters = []ExporterConfig{{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Name: "edge"}}
	cfg.Interfaces = []InterfaceConfig{{Exporter: netip.MustParsePrefix("192.0.2.0/24"), Index: 1, Name: "uplink"}}
	e := newEnricher(t, cfg)
	flows := []record.Flow{{ExporterAddress: addr("::ffff:192.0.2.1"), InIfIndex: 1, OutIfIndex: 9,
		SrcAddr: addr("::ffff:10.1.1.1"), DstAddr: addr("::ffff:81.2.69.1"), Proto: 6, SrcPort: 40000, DstPort: 443}}
	e.Process(flows) // the first lookup of an address fills the GeoIP caches
	if f := flows[0]; f.DstCountry != "GB" || f.DstThreatFeeds.Len() != 1 || f.DstNetName != "" || f.SrcNetName != "corp" {
		t.Fatalf("sources not all on: %+v", f)
	}
	if n := testing.AllocsPerRun(100, func() { e.Process(flows) }); n != 0 {
		t.Errorf("Process allocates %v times per record", n)
	}
	// The same with the address cache off: every lookup walks the tables.
	e.cacheUseful.Store(false)
	e.cacheBypassed.Store(1) // no retry batch among the next few
	if n := testing.AllocsPerRun(5, func() { e.Process(flows) }); n != 0 {
		t.Errorf("Process allocates %v times per record with the address cache off", n)
	}
	if f := flows[0]; f.DstCountry != "GB" || f.DstThreatFeeds.Len() != 1 || f.SrcNetName != "corp" {
		t.Fatalf("cache off: %+v", f)
	}
}

// GeoIP lookups and misses count once per address looked up, whether the
// address cache answers or the databases do.
func TestGeoIPCountedOnCacheHits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "city.mmdb")
	replaceFile(t, path, string(geoiptest.Build(t, "GeoLite2-City", 1, []geoiptest.Network{
		{CIDR: "81.2.69.0/24", Record: geoiptest.CityRecord("GB", "GB", "London")},
	})))
	cfg := DefaultConfig()
	cfg.GeoIP.GeoDatabase = path
	r := reporter.New(slog.New(slog.DiscardHandler))
	e, err := New(r, cfg, Dependencies{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		e.Process([]record.Flow{{SrcAddr: addr("::ffff:81.2.69.1"), DstAddr: addr("::ffff:198.51.100.1")}})
	}
	if n := metricSum(t, r, "geoip_lookups_total"); n != 6 {
		t.Errorf("%v GeoIP lookups counted, want 6", n)
	}
	if n := metricSum(t, r, "geoip_misses_total"); n != 3 {
		t.Errorf("%v GeoIP misses counted, want 3", n)
	}
	if n := metricSum(t, r, "address_cache_lookups_total"); n != 6 {
		t.Errorf("%v address cache lookups, want 6", n)
	}
}

// An address answered from the cache still counts as a feed match, and a
// feed file replaced while running reaches addresses already cached.
func TestFeedReloadReachesCachedAddresses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "feed.txt")
	write := func(content string) { replaceFile(t, path, content) }
	write("192.0.2.1\n")
	cfg := DefaultConfig()
	cfg.Threat.Feeds = []threat.FeedConfig{{Name: "reload-test", Format: "plain", File: path, Refresh: 10 * time.Millisecond}}
	r := reporter.New(slog.New(slog.DiscardHandler))
	e, err := New(r, cfg, Dependencies{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	start(t, e)

	tagged := func(a string) bool {
		flows := []record.Flow{{SrcAddr: addr("::ffff:198.51.100.9"), DstAddr: addr(a)}}
		e.Process(flows)
		return flows[0].DstThreatFeeds != 0
	}
	for range 3 {
		if !tagged("::ffff:192.0.2.1") || tagged("::ffff:198.51.100.7") {
			t.Fatal("tags before the reload")
		}
	}
	if n := metricSum(t, r, "matches_total"); n != 3 {
		t.Fatalf("%v feed matches counted, want 3 (one per record, cached or not)", n)
	}
	write("198.51.100.7\n")
	testenv.Eventually(t, 30*time.Second, "the reloaded feed to tag the new address only", func() bool { return tagged("::ffff:198.51.100.7") && !tagged("::ffff:192.0.2.1") })
}

// metricSum adds every sample of the metrics whose name ends with suffix.
func metricSum(t *testing.T, r *reporter.Reporter, suffix string) float64 {
	t.Helper()
	mfs, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if strings.HasSuffix(mf.GetName(), suffix) {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// Addresses that never repeat turn the address cache off; once they
// repeat again, a retried batch turns it back on. The answers are the same
// either way.
func TestAddressCacheTurnsOffWhenUseless(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Networks.Entries = []NetworkEntry{{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Name: "corp"}}
	e := newEnricher(t, cfg)
	size := 512
	batch := func(distinct bool, seq int) {
		t.Helper()
		flows := make([]record.Flow, size)
		for i := range flows {
			v := uint32(i)
			if !distinct {
				v = 0
			}
			v += uint32(seq) << 9
			flows[i].SrcAddr = record.AddrFrom4([4]byte{10, byte(v >> 16), byte(v >> 8), byte(v)})
			flows[i].DstAddr = record.AddrFrom4([4]byte{192, byte(v >> 16), byte(v >> 8), byte(v)})
		}
		e.Process(flows)
		for i := range flows {
			if flows[i].SrcNetName != "corp" || flows[i].DstNetName != "" {
				t.Fatalf("record %d: %q %q", i, flows[i].SrcNetName, flows[i].DstNetName)
			}
		}
	}
	batch(false, 0)
	if !e.cacheUseful.Load() {
		t.Fatal("off after a batch of one repeated address")
	}
	batch(true, 1)
	if e.cacheUseful.Load() {
		t.Fatal("still on after a batch where no address repeats")
	}
	for i := range cacheRetryEvery {
		batch(false, 2+i)
	}
	if !e.cacheUseful.Load() {
		t.Fatalf("still off after %d batches of one repeated address", cacheRetryEvery)
	}
	// Small batches (a low rate) are judged together.
	batch(true, 100)
	if e.cacheUseful.Load() {
		t.Fatal("still on after a batch where no address repeats")
	}
	size = 4 // 8 lookups a batch
	for i := range cacheRetryEvery * (cacheJudgeLookups/8 + 1) {
		batch(false, 200+i)
	}
	if !e.cacheUseful.Load() {
		t.Fatal("still off after small batches of repeated addresses")
	}
}

// A GeoIP database replaced while running reaches addresses whose answer
// the address cache holds.
func TestGeoIPReloadReachesCachedAddresses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "city.mmdb")
	city := func(name string, epoch int64) string {
		return string(geoiptest.Build(t, "GeoLite2-City", epoch, []geoiptest.Network{
			{CIDR: "81.2.69.0/24", Record: geoiptest.CityRecord("GB", "GB", name)},
		}))
	}
	replaceFile(t, path, city("London", 1))
	cfg := DefaultConfig()
	cfg.GeoIP.GeoDatabase = path
	cfg.GeoIP.CheckInterval = 10 * time.Millisecond
	e := newEnricher(t, cfg)
	start(t, e)

	cityOf := func() string {
		flows := []record.Flow{{SrcAddr: addr("::ffff:81.2.69.1"), DstAddr: addr("::ffff:81.2.69.1")}}
		e.Process(flows)
		return flows[0].SrcGeoCity
	}
	for range 3 {
		if got := cityOf(); got != "London" {
			t.Fatalf("city %q", got)
		}
	}
	replaceFile(t, path, city("Manchester", 2))
	testenv.Eventually(t, 30*time.Second, "the new city", func() bool { return cityOf() == "Manchester" })
}

// TestNetworksFileWinsAndLongestMatch: the file's entry replaces an
// inline one of the same prefix, in IPv4 (the flattened table) as in IPv6
// (the tree), and the longest prefix answers inside a shorter one.
func TestNetworksFileWinsAndLongestMatch(t *testing.T) {
	inline := []NetworkEntry{
		{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Name: "corp"},
		{Prefix: netip.MustParsePrefix("10.1.0.0/16"), Name: "inline-dc"},
		{Prefix: netip.MustParsePrefix("2001:db8::/32"), Name: "inline-v6"},
	}
	file := []NetworkEntry{
		{Prefix: netip.MustParsePrefix("10.1.0.0/16"), Name: "file-dc"},
		{Prefix: netip.MustParsePrefix("10.1.2.0/24"), Name: "lab"},
		{Prefix: netip.MustParsePrefix("2001:db8::/32"), Name: "file-v6"},
		{Prefix: netip.MustParsePrefix("::ffff:10.1.2.128/121"), Name: "lab-mapped"}, // 10.1.2.128/25
	}
	table := buildNetworks(inline, file)
	for addr, want := range map[string]string{
		"10.9.9.9": "corp", "10.1.0.1": "file-dc", "10.1.2.3": "lab", "10.1.3.0": "file-dc",
		"::ffff:10.1.2.3": "lab", "10.1.2.200": "lab-mapped", "::ffff:10.1.2.200": "lab-mapped",
		"11.0.0.1": "", "2001:db8::1": "file-v6", "2001:db9::1": "",
	} {
		got := ""
		if n := table.lookup(netip.MustParseAddr(addr)); n != nil {
			got = n.name
		}
		if got != want {
			t.Errorf("%s: %q, want %q", addr, got, want)
		}
	}
	if table.size() != 5 {
		t.Errorf("%d prefixes, want 5 (two replaced)", table.size())
	}
}

// TestMappedPrefixesMatchIPv4: own networks, exporters and interfaces
// configured as IPv4-mapped IPv6 prefixes match the IPv4 addresses records
// carry, and the caller's configuration is left as it was.
func TestMappedPrefixesMatchIPv4(t *testing.T) {
	cfg := DefaultConfig()
	cfg.OwnNetworks = []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")}
	cfg.Exporters = []ExporterConfig{{Prefix: netip.MustParsePrefix("::ffff:192.0.2.0/120"), Name: "edge"}}
	cfg.Interfaces = []InterfaceConfig{{Exporter: netip.MustParsePrefix("::ffff:192.0.2.0/120"), Index: 3, Name: "et-0/0/3"}}
	e := newEnricher(t, cfg)
	flows := []record.Flow{{ExporterAddress: addr("::ffff:192.0.2.1"), InIfIndex: 3, SrcAddr: addr("::ffff:10.1.2.3"), DstAddr: addr("::ffff:198.51.100.7"), Proto: 6, SrcPort: 50000, DstPort: 443}}
	e.Process(flows)
	if f := flows[0]; f.TrafficDirection != record.DirectionOutbound || f.ExporterName != "edge" || f.InIfName != "et-0/0/3" {
		t.Errorf("direction %v, exporter %q, interface %q", f.TrafficDirection, f.ExporterName, f.InIfName)
	}
	if cfg.OwnNetworks[0].String() != "::ffff:10.0.0.0/104" || cfg.Exporters[0].Prefix.String() != "::ffff:192.0.2.0/120" {
		t.Errorf("the caller's configuration changed: %v, %v", cfg.OwnNetworks, cfg.Exporters[0].Prefix)
	}
}
