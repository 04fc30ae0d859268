package geoip

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"sluice/internal/testenv"
)

func cityNetworks() []network {
	return []network{
		{CIDR: "81.2.69.0/24", Record: cityRecord("GB", "GB", "London")},
		{CIDR: "81.2.69.160/27", Record: cityRecord("GB", "GB", "")},
		{CIDR: "89.160.20.0/24", Record: cityRecord("", "SE", "")},
		{CIDR: "2a02:ff00::/32", Record: cityRecord("CH", "CH", "Zurich")},
	}
}

var asnNetworks = []network{
	{CIDR: "81.2.69.0/24", Record: asnRecord(20712, "Andrews & Arnold Ltd")},
	{CIDR: "2a02:ff00::/32", Record: asnRecord(13030, "Init7 (Switzerland) Ltd.")},
	{CIDR: "1.0.0.0/24", Record: asnRecord(13335, "CLOUDFLARENET")},
}

type lookupCase struct {
	addr string
	want Result
}

// checkLookups checks Lookup, and Find then Fill, which must agree.
func checkLookups(t *testing.T, d *DB, cases []lookupCase) {
	t.Helper()
	for _, c := range cases {
		var got Result
		d.Lookup(netip.MustParseAddr(c.addr), &got)
		if got != c.want {
			t.Errorf("Lookup(%s) = %+v, want %+v", c.addr, got, c.want)
		}
		var found Result
		d.Find(netip.MustParseAddr(c.addr)).Fill(&found)
		if found != c.want {
			t.Errorf("Find(%s).Fill = %+v, want %+v", c.addr, found, c.want)
		}
	}
}

func TestMaxMindAndDBIPLayouts(t *testing.T) {
	for _, types := range [][2]string{
		{"GeoLite2-City", "GeoLite2-ASN"},
		{"DBIP-City-Lite", "DBIP-ASN-Lite (compat=GeoLite2-ASN)"},
	} {
		t.Run(types[0], func(t *testing.T) {
			dir := t.TempDir()
			cfg := DefaultConfig()
			cfg.GeoDatabase = filepath.Join(dir, "city.mmdb")
			cfg.ASNDatabase = filepath.Join(dir, "asn.mmdb")
			writeFile(t, cfg.GeoDatabase, buildMMDB(t, types[0], 1_700_000_000, cityNetworks()))
			writeFile(t, cfg.ASNDatabase, buildMMDB(t, types[1], 1_700_000_100, asnNetworks))
			r := newReporter()
			d, err := New(r, cfg, Dependencies{})
			if err != nil {
				t.Fatal(err)
			}
			defer d.close()
			london := Result{Country: "GB", City: "London", ASN: 20712, ASName: "Andrews & Arnold Ltd"}
			checkLookups(t, d, []lookupCase{
				{"81.2.69.142", london},
				{"::ffff:81.2.69.142", london},
				{"81.2.69.170", Result{Country: "GB", ASN: 20712, ASName: "Andrews & Arnold Ltd"}},
				{"89.160.20.5", Result{Country: "SE"}}, // registered country stands in
				{"2a02:ff00::1", Result{Country: "CH", City: "Zurich", ASN: 13030, ASName: "Init7 (Switzerland) Ltd."}},
				{"2a02:ff00:ffff:ffff:ffff:ffff:ffff:ffff", Result{Country: "CH", City: "Zurich", ASN: 13030, ASName: "Init7 (Switzerland) Ltd."}},
				{"1.0.0.1", Result{ASN: 13335, ASName: "CLOUDFLARENET"}},
				{"8.8.8.8", Result{}},
				{"2001:4860::8888", Result{}},
			})
			g := r.Gatherer()
			// Find counts nothing; Count counts an answer as Lookup would.
			d.Count(d.Find(netip.MustParseAddr("1.0.0.1")))
			if got := metricValue(t, g, "lookups_total"); got != 10 {
				t.Errorf("lookups_total = %v, want 10", got)
			}
			// geo: 1.0.0.1 (twice), 8.8.8.8, 2001:4860::8888; asn: 89.160.20.5, 8.8.8.8, 2001:4860::8888
			if got := metricValue(t, g, "misses_total", "database", "geo"); got != 4 {
				t.Errorf("geo misses = %v, want 4", got)
			}
			if got := metricValue(t, g, "misses_total", "database", "asn"); got != 3 {
				t.Errorf("asn misses = %v, want 3", got)
			}
			if got := metricValue(t, g, "build_epoch_seconds", "database", "asn"); got != 1_700_000_100 {
				t.Errorf("asn build epoch = %v", got)
			}
			if got := metricValue(t, g, "decoded_records", "database", "geo"); got != 4 {
				t.Errorf("geo cache entries = %v, want 4 (London, GB, SE, Zurich)", got)
			}
		})
	}
}

func TestIPinfoLayouts(t *testing.T) {
	dir := t.TempDir()
	countryASN := filepath.Join(dir, "country_asn.mmdb")
	writeFile(t, countryASN, buildMMDB(t, "ipinfo country_asn.mmdb", 1_700_000_000, []network{
		{CIDR: "1.0.0.0/24", Record: ipinfoCountryASN("AU", "Australia", "AS13335", "Cloudflare, Inc.")},
		{CIDR: "2606:4700::/32", Record: ipinfoCountryASN("US", "United States", "AS13335", "Cloudflare, Inc.")},
		{CIDR: "81.2.69.0/24", Record: ipinfoCountryASN("GB", "United Kingdom", "", "")},
	}))
	lite := filepath.Join(dir, "ipinfo_lite.mmdb")
	writeFile(t, lite, buildMMDB(t, "ipinfo lite.mmdb", 1_700_000_000, []network{
		{CIDR: "1.0.0.0/24", Record: mmdbtype.Map{
			"country": mmdbtype.String("Australia"), "country_code": mmdbtype.String("AU"),
			"continent": mmdbtype.String("Oceania"), "continent_code": mmdbtype.String("OC"),
			"asn": mmdbtype.String("AS13335"), "as_name": mmdbtype.String("Cloudflare, Inc."), "as_domain": mmdbtype.String("cloudflare.com"),
		}},
	}))

	standardASN := filepath.Join(dir, "standard_asn.mmdb")
	writeFile(t, standardASN, buildMMDB(t, "ipinfo standard_asn.mmdb", 1_700_000_000, []network{
		{CIDR: "1.0.0.0/24", Record: mmdbtype.Map{
			"asn": mmdbtype.String("AS13335"), "name": mmdbtype.String("CLOUDFLARENET"),
			"domain": mmdbtype.String("cloudflare.com"), "route": mmdbtype.String("1.0.0.0/24"), "type": mmdbtype.String("hosting"),
		}},
	}))

	cloudflareAU := Result{Country: "AU", ASN: 13335, ASName: "Cloudflare, Inc."}
	for _, c := range []struct {
		name     string
		cfg      Config
		expected []lookupCase
	}{
		{"country_asn as geo-database only", Config{GeoDatabase: countryASN, CheckInterval: time.Second}, []lookupCase{
			{"1.0.0.1", cloudflareAU},
			{"2606:4700:4700::1111", Result{Country: "US", ASN: 13335, ASName: "Cloudflare, Inc."}},
			{"81.2.69.142", Result{Country: "GB"}},
			{"8.8.8.8", Result{}},
		}},
		{"country_asn as asn-database only", Config{ASNDatabase: countryASN, CheckInterval: time.Second}, []lookupCase{
			{"::ffff:1.0.0.1", cloudflareAU},
		}},
		{"same file in both keys", Config{GeoDatabase: countryASN, ASNDatabase: countryASN, CheckInterval: time.Second}, []lookupCase{
			{"1.0.0.1", cloudflareAU},
		}},
		{"standard_asn beside a country database", Config{GeoDatabase: lite, ASNDatabase: standardASN, CheckInterval: time.Second}, []lookupCase{
			{"1.0.0.1", Result{Country: "AU", ASN: 13335, ASName: "CLOUDFLARENET"}}, // the ASN database's name wins
		}},
		{"lite", Config{GeoDatabase: lite, CheckInterval: time.Second}, []lookupCase{
			{"1.0.0.255", cloudflareAU},
			{"1.0.1.0", Result{}},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, err := New(newReporter(), c.cfg, Dependencies{})
			if err != nil {
				t.Fatal(err)
			}
			checkLookups(t, d, c.expected)
		})
	}
}

func TestParseASN(t *testing.T) {
	for in, want := range map[string]uint32{
		"AS13335": 13335, "as64512": 64512, "AS4294967295": 4294967295,
		"AS4294967296": 0, "13335": 0, "AS": 0, "AS12x": 0, "": 0,
	} {
		if got := parseASN(in); got != want {
			t.Errorf("parseASN(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestConfigErrorsNameTheKeyOrFile(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults must validate: %v", err)
	}
	cfg := DefaultConfig()
	cfg.CheckInterval = 0
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "check-interval") {
		t.Fatalf("zero check-interval: %v", err)
	}

	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.mmdb")
	if _, err := New(newReporter(), Config{ASNDatabase: missing, CheckInterval: time.Second}, Dependencies{}); err == nil ||
		!strings.Contains(err.Error(), "asn-database") || !strings.Contains(err.Error(), missing) {
		t.Fatalf("missing file: %v", err)
	}
	garbage := filepath.Join(dir, "garbage.mmdb")
	writeFile(t, garbage, []byte("not a MaxMind database\n"))
	if _, err := New(newReporter(), Config{GeoDatabase: garbage, CheckInterval: time.Second}, Dependencies{}); err == nil ||
		!strings.Contains(err.Error(), garbage) {
		t.Fatalf("garbage file: %v", err)
	}
	other := filepath.Join(dir, "other.mmdb")
	writeFile(t, other, buildMMDB(t, "Acme-Geo", 1, []network{{CIDR: "1.0.0.0/24", Record: asnRecord(1, "x")}}))
	if _, err := New(newReporter(), Config{GeoDatabase: other, CheckInterval: time.Second}, Dependencies{}); err == nil ||
		!strings.Contains(err.Error(), `"Acme-Geo"`) {
		t.Fatalf("unsupported database type: %v", err)
	}
	mislabelled := filepath.Join(dir, "mislabelled.mmdb")
	writeFile(t, mislabelled, buildMMDB(t, "ipinfo country_asn.mmdb", 1, cityNetworks()))
	if _, err := New(newReporter(), Config{GeoDatabase: mislabelled, CheckInterval: time.Second}, Dependencies{}); err == nil ||
		!strings.Contains(err.Error(), "ipinfo layout") {
		t.Fatalf("records not in the layout of the database type: %v", err)
	}
}

func TestIPv4OnlyDatabaseAndInvalidAddress(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "v4.mmdb")
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-Country", RecordSize: 24, IPVersion: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := tree.Insert(&net.IPNet{IP: net.IPv4(81, 2, 69, 0).To4(), Mask: net.CIDRMask(24, 32)}, cityRecord("GB", "GB", "")); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, buf.Bytes())
	r := newReporter()
	d, err := New(r, Config{GeoDatabase: path, CheckInterval: time.Second}, Dependencies{})
	if err != nil {
		t.Fatal(err)
	}
	checkLookups(t, d, []lookupCase{
		{"81.2.69.1", Result{Country: "GB"}},
		{"::ffff:81.2.69.1", Result{Country: "GB"}},
		{"2a02:ff00::1", Result{}},
	})
	var out Result
	d.Lookup(netip.Addr{}, &out)
	if out != (Result{}) {
		t.Fatalf("invalid address: %+v", out)
	}
	if got := metricValue(t, r.Gatherer(), "decode_errors_total"); got != 0 {
		t.Fatalf("an IPv6 address in an IPv4 database or an invalid address counted %v decode errors", got)
	}
	if got := metricValue(t, r.Gatherer(), "lookups_total"); got != 3 {
		t.Fatalf("lookups_total = %v, want 3 (the invalid address is not looked up)", got)
	}
}

func TestNoDatabaseFindsNothing(t *testing.T) {
	d, err := New(newReporter(), DefaultConfig(), Dependencies{})
	if err != nil {
		t.Fatal(err)
	}
	out := Result{Country: "stale"}
	d.Lookup(netip.MustParseAddr("1.1.1.1"), &out)
	if out != (Result{}) {
		t.Fatalf("got %+v", out)
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.GeoDatabase = filepath.Join(dir, "city.mmdb")
	cfg.ASNDatabase = filepath.Join(dir, "asn.mmdb")
	writeFile(t, cfg.GeoDatabase, buildMMDB(t, "GeoLite2-City", 1, cityNetworks()))
	writeFile(t, cfg.ASNDatabase, buildMMDB(t, "GeoLite2-ASN", 1, asnNetworks))
	d, err := New(newReporter(), cfg, Dependencies{})
	if err != nil {
		t.Fatal(err)
	}
	addrs := []netip.Addr{
		netip.MustParseAddr("81.2.69.142"), netip.MustParseAddr("2a02:ff00::1"),
		netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("::ffff:1.0.0.1"),
	}
	var out Result
	for _, a := range addrs { // decode and cache each record once
		d.Lookup(a, &out)
	}
	if n := testing.AllocsPerRun(200, func() {
		for _, a := range addrs {
			d.Lookup(a, &out)
		}
	}); n != 0 {
		t.Fatalf("Lookup allocates %v times per run in steady state", n)
	}
}

// TestReplacedFilesArePickedUp replaces the database by rename and in
// place while a goroutine keeps looking up, then installs a broken file:
// every answer seen is a complete one from some version, the new versions
// appear, and the broken one is refused, counted, and leaves the last good
// one in use.
func TestReplacedFilesArePickedUp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "GeoLite2-City.mmdb")
	version := func(city string, epoch int64) []byte {
		return buildMMDB(t, "GeoLite2-City", epoch, []network{
			{CIDR: "81.2.69.0/24", Record: cityRecord("GB", "GB", city)},
			{CIDR: "2a02:ff00::/32", Record: cityRecord("CH", "CH", "Zurich")},
		})
	}
	writeFile(t, path, version("London", 1))
	r := newReporter()
	d, err := New(r, Config{GeoDatabase: path, CheckInterval: 5 * time.Millisecond}, Dependencies{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- d.run(ctx) }()

	var latest atomic.Value
	latest.Store("")
	var wrong atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		v4, v6 := netip.MustParseAddr("81.2.69.142"), netip.MustParseAddr("2a02:ff00::1")
		var out Result
		for {
			select {
			case <-stop:
				return
			default:
			}
			d.Lookup(v4, &out)
			switch out.City {
			case "London", "Manchester", "Leeds":
				latest.Store(out.City)
			default:
				wrong.Add(1)
			}
			if d.Lookup(v6, &out); out.City != "Zurich" || out.Country != "CH" {
				wrong.Add(1)
			}
		}
	}()
	waitFor := func(city string) {
		t.Helper()
		testenv.EventuallyState(t, 20*time.Second, city+" to appear", func() (bool, string) {
			last := latest.Load()
			return last == city, fmt.Sprintf("answer %v", last)
		})
	}

	waitFor("London")
	before := d.Version()
	replaceFile(t, path, version("Manchester", 2))
	waitFor("Manchester")
	if d.Version() == before {
		t.Error("Version unchanged by a reload: answers cached by callers would outlive their database")
	}
	writeFile(t, path, version("Leeds", 3)) // in place: truncate and rewrite
	waitFor("Leeds")
	if got := metricValue(t, r.Gatherer(), "build_epoch_seconds"); got != 3 {
		t.Errorf("build epoch after reload = %v, want 3", got)
	}

	failedBefore := metricValue(t, r.Gatherer(), "loads_total", "result", "failed")
	good := version("Leeds", 3)
	replaceFile(t, path, good[:len(good)/2]) // a download cut short
	failed := func() float64 { return metricValue(t, r.Gatherer(), "loads_total", "result", "failed") }
	testenv.EventuallyAtLeast(t, 20*time.Second, "the broken replacement to be counted", failed, failedBefore+1)
	// Several more checks of the same broken file, forced once the checks
	// on the timer have stopped, count nothing more.
	cancel()
	if err := <-runDone; err != nil {
		t.Fatal(err)
	}
	for range 3 {
		d.check(d.sources())
	}
	if got := failed(); got != failedBefore+1 {
		t.Errorf("the same broken file was counted %v times, want once", got-failedBefore)
	}
	close(stop)
	wg.Wait()
	var out Result
	d.Lookup(netip.MustParseAddr("81.2.69.142"), &out)
	if out.City != "Leeds" {
		t.Errorf("after a broken replacement the lookup says %+v, want the last good database", out)
	}
	if n := wrong.Load(); n != 0 {
		t.Errorf("%d lookups gave an incomplete answer during the replacements", n)
	}
	if got := metricValue(t, r.Gatherer(), "loads_total", "result", "ok"); got < 3 {
		t.Errorf("loads ok = %v, want at least 3", got)
	}
}
