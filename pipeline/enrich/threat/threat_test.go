package threat

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"sluice/internal/reporter"
	"sluice/internal/testenv"
)

func newReporter() *reporter.Reporter {
	return reporter.New(slog.New(slog.DiscardHandler))
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestFormatsParseExactly(t *testing.T) {
	for _, c := range []struct {
		file, format string
		entries      int
		bad          int
		members      []string
		nonMembers   []string
	}{
		{"firehol_level1.netset", FormatFireHOL, 9, 0,
			[]string{"0.1.2.3", "1.10.31.255", "10.200.0.1", "100.127.255.255", "185.220.101.200", "192.168.1.1"},
			[]string{"1.10.32.0", "100.128.0.0", "8.8.8.8", "::1"}},
		{"drop_v4.json", FormatSpamhausDROP, 5, 0,
			[]string{"1.10.16.1", "1.19.255.255", "2.56.195.255", "5.134.159.1", "185.220.101.33"},
			[]string{"2.56.196.0", "185.220.101.31", "185.220.101.64"}},
		{"drop_v6.json", FormatSpamhausDROP, 3, 0,
			[]string{"2a06:5280::1", "2a06:5287:ffff::1", "2403:3c00:ffff::1"},
			[]string{"2a06:5288::", "2403:3c01::", "1.10.16.1"}},
		{"ipblocklist.csv", FormatFeodoCSV, 4, 0,
			[]string{"51.75.146.70", "162.243.103.246", "185.220.101.47", "91.92.253.211", "::ffff:51.75.146.70"},
			[]string{"51.75.146.71", "443.0.0.0", "2026.11.24.0"}},
		{"torbulkexitlist", FormatTorExits, 5, 0,
			[]string{"185.220.101.47", "204.8.96.101", "2a0b:f4c2::10"},
			[]string{"185.220.101.49", "2a0b:f4c2::11"}},
		{"exit-addresses", FormatTorExits, 3, 0,
			[]string{"185.220.101.47", "162.247.74.201", "162.247.74.202"},
			[]string{"162.247.74.200"}},
		{"plain.txt", FormatPlain, 4, 1,
			[]string{"203.0.113.7", "198.51.100.255", "2001:db8:bad:ffff::1", "192.0.2.99"},
			[]string{"203.0.113.8", "2001:db8:bae::1"}},
	} {
		t.Run(c.file, func(t *testing.T) {
			p, err := parseFeed(c.format, readTestdata(t, c.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(p.prefixes) != c.entries || p.badLines != c.bad {
				t.Fatalf("%d entries, %d bad lines (first %q); want %d, %d: %v",
					len(p.prefixes), p.badLines, p.firstBad, c.entries, c.bad, p.prefixes)
			}
			r := newReporter()
			s, err := New(r, Config{Feeds: []FeedConfig{{Name: "f", Format: c.format, File: filepath.Join("testdata", c.file)}}}, Dependencies{})
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range c.members {
				if s.Match(netip.MustParseAddr(a)) != 1 {
					t.Errorf("%s does not match", a)
				}
			}
			for _, a := range c.nonMembers {
				if addr, err := netip.ParseAddr(a); err == nil && s.Match(addr) != 0 {
					t.Errorf("%s matches", a)
				}
			}
			m := s.m.feeds[0]
			if got := testutil.ToFloat64(m.entries); got != float64(c.entries) {
				t.Errorf("feed_entries = %v", got)
			}
			if got := testutil.ToFloat64(m.badLines); got != float64(c.bad) {
				t.Errorf("feed_bad_lines_total = %v", got)
			}
			if got := testutil.ToFloat64(m.matches); got != float64(len(c.members)) {
				t.Errorf("feed_matches_total = %v, want %d", got, len(c.members))
			}
			if n, err := testutil.GatherAndCount(r.Gatherer(), "sluice_pipeline_enrich_threat_feed_entries"); err != nil || n != 1 {
				t.Errorf("sluice_pipeline_enrich_threat_feed_entries has %d series (%v), want 1", n, err)
			}
		})
	}
}

func TestBadLinesAreCountedNotFatal(t *testing.T) {
	p, err := parseFeed(FormatSpamhausDROP, []byte(`{"cidr":"1.2.3.0/24","sblid":"SBL1","rir":"ripencc"}
{"cidr":"1.2.3.0/33","sblid":"SBL2"}
{"sblid":"SBL3"}
<html>
`))
	if err != nil || len(p.prefixes) != 1 || p.badLines != 3 {
		t.Fatalf("entries %v, bad %d, err %v", p.prefixes, p.badLines, err)
	}
	p, err = parseFeed(FormatFeodoCSV, []byte("# header\n\"2021-01-17 07:44:46\",\"51.75.146.70\",\"443\",\"online\",\"2026-11-24\",\"Pikabot\"\n\"2021-01-17\",\"x\",\"1\",\"online\",\"\",\"\"\n\"unterminated\n"))
	if err != nil || len(p.prefixes) != 1 || p.badLines != 2 {
		t.Fatalf("feodo without header row: entries %v, bad %d (%q), err %v", p.prefixes, p.badLines, p.firstBad, err)
	}
	if _, err := parseUsable(FormatFireHOL, []byte("<html><body>rate limited</body></html>\n")); err == nil {
		t.Fatal("a document with no entry and only bad lines must be refused")
	}
	if _, err := parseUsable(FormatTorExits, []byte("\n")); err == nil {
		t.Fatal("an empty document must be refused")
	}
	csv := string(readTestdata(t, "ipblocklist.csv"))
	headerOnly := csv[:strings.Index(csv, "\n\"2021")+1] + "# Number of entries: 0\n"
	if p, err := parseUsable(FormatFeodoCSV, []byte(headerOnly)); err != nil || len(p.prefixes) != 0 {
		t.Fatalf("a Feodo list with no entry (header only) is a valid empty feed: %v %v", p.prefixes, err)
	}
}

// TestOverlappingFeedsAndOwnNetworks: a /32 inside another feed's /24
// carries both bits, and feeds without match-own-networks never match
// inside the own networks, even for a more specific entry there.
func TestOverlappingFeedsAndOwnNetworks(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	cfg := Config{Feeds: []FeedConfig{
		{Name: "firehol_level1", Format: FormatFireHOL, File: filepath.Join("testdata", "firehol_level1.netset")},
		{Name: "spamhaus_drop", Format: FormatSpamhausDROP, File: filepath.Join("testdata", "drop_v4.json")},
		{Name: "tor", Format: FormatTorExits, File: filepath.Join("testdata", "torbulkexitlist")},
		{Name: "inside", Format: FormatPlain, File: write("inside.txt", "10.1.2.3\n10.1.9.0/24\n"), MatchOwnNetworks: true},
		{Name: "inside-default", Format: FormatPlain, File: write("inside2.txt", "10.1.2.3\n")},
	}}
	own := []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("185.220.101.40/29")}
	s, err := New(newReporter(), cfg, Dependencies{OwnNetworks: own})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.FeedNames(); strings.Join(got, ",") != "firehol_level1,spamhaus_drop,tor,inside,inside-default" {
		t.Fatalf("FeedNames = %v", got)
	}
	for addr, want := range map[string]uint64{
		"185.220.101.47":     0,         // firehol /24, spamhaus /27, tor /32, all in an own /29
		"185.220.101.48":     1 | 2 | 4, // just outside the own /29
		"185.220.101.39":     1 | 2,
		"172.16.5.5":         0, // own network equal to a firehol entry
		"172.32.0.1":         0,
		"185.220.101.31":     1,     // below the spamhaus /27
		"185.220.101.64":     1,     // above it
		"1.10.16.5":          1 | 2, // same prefix in two feeds
		"10.2.0.1":           1,     // firehol's 10/8 outside the own networks
		"10.1.0.1":           0,     // inside: firehol excluded
		"10.1.2.3":           8,     // inside: only the feed that asks to match there
		"10.1.9.200":         8,
		"::ffff:10.1.2.3":    8,
		"::ffff:10.2.0.1":    1,
		"192.42.116.16":      4,
		"8.8.8.8":            0,
		"2a0b:f4c2::10":      4,
		"2a0b:f4c2::11":      0,
		"2001:db8::1":        0,
		"::ffff:192.168.0.1": 1,
	} {
		if got := s.Match(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Match(%s) = %05b, want %05b", addr, got, want)
		}
	}
}

func TestNamesOfMatchedMasks(t *testing.T) {
	s, err := New(newReporter(), Config{Feeds: []FeedConfig{
		{Name: "firehol_level1", Format: FormatFireHOL, File: filepath.Join("testdata", "firehol_level1.netset")},
		{Name: "spamhaus_drop", Format: FormatSpamhausDROP, File: filepath.Join("testdata", "drop_v4.json")},
		{Name: "tor", Format: FormatTorExits, File: filepath.Join("testdata", "torbulkexitlist")},
	}}, Dependencies{})
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr("185.220.101.47")
	mask := s.Match(a)
	if got := strings.Join(s.Names(mask), ","); got != "firehol_level1,spamhaus_drop,tor" {
		t.Fatalf("Names(%b) = %s", mask, got)
	}
	if got := s.Names(s.Match(netip.MustParseAddr("8.8.8.8"))); got != nil {
		t.Fatalf("Names(0) = %v", got)
	}
	if got := strings.Join(s.Names(0b101), ","); got != "firehol_level1,tor" {
		t.Fatalf("Names of a mask no entry carries = %s", got)
	}
	if n := testing.AllocsPerRun(100, func() { s.Names(s.Match(a)) }); n != 0 {
		t.Fatalf("Names of a matched mask allocates %v times", n)
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	s, err := New(newReporter(), Config{Feeds: []FeedConfig{
		{Name: "firehol", Format: FormatFireHOL, File: filepath.Join("testdata", "firehol_level1.netset")},
		{Name: "drop6", Format: FormatSpamhausDROP, File: filepath.Join("testdata", "drop_v6.json")},
	}}, Dependencies{OwnNetworks: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}})
	if err != nil {
		t.Fatal(err)
	}
	addrs := []netip.Addr{netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("185.220.101.1"),
		netip.MustParseAddr("2a06:5280::1"), netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("::ffff:10.9.9.9")}
	if n := testing.AllocsPerRun(200, func() {
		for _, a := range addrs {
			s.Match(a)
		}
	}); n != 0 {
		t.Fatalf("Match allocates %v times per run", n)
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Feeds: []FeedConfig{
		{Name: "a", Format: FormatPlain, File: "/x"},
		{Name: "a", Format: FormatPlain, URL: "https://example.net/list"},
		{Name: "c", Format: "firehol", File: "/x"},
		{Name: "d/e", Format: FormatPlain},
		{Name: "f", Format: FormatPlain, File: "/x", URL: "https://example.net/"},
		{Name: "g", Format: FormatPlain, URL: "ftp://example.net/", Refresh: -time.Second},
	}}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"feeds[1].name", "feeds[2].format", "feeds[3].name", "feeds[3]: one of file or url",
		"feeds[4]: file and url", "feeds[5].url", "feeds[5].refresh"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
	many := Config{}
	for i := range MaxFeeds + 1 {
		many.Feeds = append(many.Feeds, FeedConfig{Name: fmt.Sprint("f", i), Format: FormatPlain, File: "/x"})
	}
	if err := many.Validate(); err == nil || !strings.Contains(err.Error(), "feeds: at most 64") {
		t.Fatalf("65 feeds: %v", err)
	}
	_, err = New(newReporter(), Config{Feeds: []FeedConfig{{Name: "a", Format: FormatPlain, File: "/nonexistent/list"}}}, Dependencies{})
	if err == nil || !strings.Contains(err.Error(), "feeds[0].file") {
		t.Fatalf("missing file: %v", err)
	}
}

// feedServer serves a feed document on 127.0.0.1 that the test can change
// or break, with ETag/Last-Modified like the real publishers.
type feedServer struct {
	*httptest.Server
	mu       sync.Mutex
	body     string
	version  int
	failing  bool
	requests atomic.Int64
	notMod   atomic.Int64
}

func newFeedServer(t *testing.T, body string) *feedServer {
	fs := &feedServer{body: body, version: 1}
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.requests.Add(1)
		fs.mu.Lock()
		body, version, failing := fs.body, fs.version, fs.failing
		fs.mu.Unlock()
		if failing {
			http.Error(w, "upstream unavailable", http.StatusServiceUnavailable)
			return
		}
		etag := fmt.Sprintf(`"v%d"`, version)
		if r.Header.Get("If-None-Match") == etag {
			fs.notMod.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(fs.Close)
	return fs
}

func (fs *feedServer) set(body string, failing bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if body != fs.body {
		fs.body, fs.version = body, fs.version+1
	}
	fs.failing = failing
}

func TestURLFeedRefreshFailureAndRestartFromState(t *testing.T) {
	drop := string(readTestdata(t, "drop_v4.json"))
	srv := newFeedServer(t, drop)
	stateDir := t.TempDir()
	cfg := Config{Feeds: []FeedConfig{{Name: "spamhaus_drop", Format: FormatSpamhausDROP, URL: srv.URL + "/drop/drop_v4.json", Refresh: 20 * time.Millisecond}}}
	r := newReporter()
	s, err := New(r, cfg, Dependencies{StateDir: stateDir})
	if err != nil {
		t.Fatal(err)
	}
	listed, added := netip.MustParseAddr("1.10.16.1"), netip.MustParseAddr("45.9.148.1")
	if s.Match(listed) != 0 {
		t.Fatal("nothing is fetched before Start")
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, "the first fetch is in", func() bool { return s.Match(listed) == 1 })
	testenv.Eventually(t, 20*time.Second, "an unchanged feed is answered 304", func() bool { return srv.notMod.Load() > 0 })

	srv.set(strings.Replace(drop, `{"type":"metadata"`, `{"cidr":"45.9.148.0/24","sblid":"SBL612345","rir":"ripencc"}`+"\n"+`{"type":"metadata"`, 1), false)
	testenv.Eventually(t, 20*time.Second, "the refresh brings the new entry", func() bool { return s.Match(added) == 1 })

	errorsBefore := testutil.ToFloat64(s.m.feeds[0].loadErrors)
	srv.set("", true)
	testenv.Eventually(t, 20*time.Second, "failed fetches are counted", func() bool { return testutil.ToFloat64(s.m.feeds[0].loadErrors) >= errorsBefore+2 })
	if s.Match(added) != 1 || s.Match(listed) != 1 {
		t.Fatal("a failing server must leave the previous entries in use")
	}
	srv.set("<html>Too Many Requests</html>\n", false)
	testenv.Eventually(t, 20*time.Second, "an error page is refused", func() bool { return testutil.ToFloat64(s.m.feeds[0].loadErrors) >= errorsBefore+4 })
	if s.Match(added) != 1 {
		t.Fatal("an error page served with 200 must not replace the feed")
	}
	if err := s.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}

	// A restart without network (the server is gone) matches from the
	// saved copy.
	srv.Close()
	s2, err := New(newReporter(), cfg, Dependencies{StateDir: stateDir})
	if err != nil {
		t.Fatal(err)
	}
	if s2.Match(added) != 1 || s2.Match(listed) != 1 {
		t.Fatal("the saved copy of the last good fetch was not loaded")
	}
}

// TestReplacedFileWhileMatching replaces a file feed by rename and in place
// while goroutines keep matching: an address listed in every version never
// stops matching, and the added one appears.
func TestReplacedFileWhileMatching(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "firehol_level1.netset")
	base := string(readTestdata(t, "firehol_level1.netset"))
	if err := os.WriteFile(path, []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newReporter()
	s, err := New(r, Config{Feeds: []FeedConfig{
		{Name: "firehol_level1", Format: FormatFireHOL, File: path, Refresh: 2 * time.Millisecond},
		{Name: "tor", Format: FormatTorExits, File: filepath.Join("testdata", "torbulkexitlist")},
	}}, Dependencies{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}

	always, tor := netip.MustParseAddr("1.10.20.1"), netip.MustParseAddr("185.220.101.47")
	var lost atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if s.Match(always)&1 == 0 || s.Match(tor)&2 == 0 {
					lost.Add(1)
				}
			}
		}()
	}
	added := netip.MustParseAddr("45.9.148.7")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(base+"45.9.148.0/24\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, "the renamed file is loaded", func() bool { return s.Match(added) == 1 })
	// In place, with another size: file times have the kernel's coarse
	// granularity, and a same-size rewrite within it would not be seen.
	if err := os.WriteFile(path, []byte(base+"45.9.149.128/25\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, "the rewritten file is loaded", func() bool {
		return s.Match(netip.MustParseAddr("45.9.149.129")) == 1 && s.Match(added) == 0
	})
	close(stop)
	wg.Wait()
	if err := s.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A torn read of the in-place rewrite may be seen for one check; the
	// address listed from the first line on must never be lost.
	if n := lost.Load(); n != 0 {
		t.Errorf("%d matches missed an address listed in every version", n)
	}
}
