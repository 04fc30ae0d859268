package threat

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"sluice/pipeline/record"
)

// Feed formats, as their publishers write them.
const (
	// FormatFireHOL is a FireHOL netset or ipset: '#' comments, one IP
	// or CIDR per line.
	FormatFireHOL = "firehol-netset"
	// FormatSpamhausDROP is Spamhaus DROP/EDROP in JSON lines
	// (drop_v4.json, drop_v6.json): {"cidr":…,"sblid":…,"rir":…} per
	// line, then a {"type":"metadata",…} line.
	FormatSpamhausDROP = "spamhaus-drop"
	// FormatFeodoCSV is abuse.ch Feodo Tracker's ipblocklist.csv: '#'
	// comment header, then quoted CSV first_seen_utc, dst_ip, dst_port,
	// c2_status, last_online, malware.
	FormatFeodoCSV = "feodo-csv"
	// FormatTorExits is the Tor bulk exit list (one IP per line) or the
	// exit-addresses document ("ExitAddress a.b.c.d date" lines).
	FormatTorExits = "tor-exits"
	// FormatPlain is one IP or CIDR per line; '#' and ';' start comments.
	FormatPlain = "plain"
)

var formats = []string{FormatFireHOL, FormatSpamhausDROP, FormatFeodoCSV, FormatTorExits, FormatPlain}

// MaxFeeds is the number of bits of the match mask: the record's feed
// registry's size.
const MaxFeeds = record.MaxFeeds

// Default refresh periods, used when refresh is 0.
const (
	DefaultURLRefresh  = time.Hour
	DefaultFileRefresh = 30 * time.Second
)

// FeedConfig is one entry of `feeds:`.
type FeedConfig struct {
	// Name tags matching records; letters, digits, '-', '_' and '.'.
	Name   string `yaml:"name"`
	Format string `yaml:"format"`
	// File or URL: exactly one.
	File string `yaml:"file"`
	URL  string `yaml:"url"`
	// Refresh is the fetch period of a URL feed (default 1h) or how
	// often a file feed is checked for changes (default 30s).
	Refresh time.Duration `yaml:"refresh"`
	// MatchOwnNetworks lets the feed match addresses inside the
	// configured own networks; by default they never match (FireHOL
	// level1 lists the private ranges).
	MatchOwnNetworks bool `yaml:"match-own-networks"`
}

// Config is the `threat:` section.
type Config struct {
	Feeds []FeedConfig `yaml:"feeds"`
}

// DefaultConfig has no feed.
func DefaultConfig() Config { return Config{} }

// Validate names bad keys, e.g. feeds[2].format.
func (c Config) Validate() error {
	var errs []error
	if len(c.Feeds) > MaxFeeds {
		errs = append(errs, fmt.Errorf("feeds: at most %d feeds, got %d", MaxFeeds, len(c.Feeds)))
	}
	seen := map[string]int{}
	for i, f := range c.Feeds {
		key := fmt.Sprintf("feeds[%d]", i)
		switch {
		case f.Name == "":
			errs = append(errs, fmt.Errorf("%s.name: missing", key))
		case !validName(f.Name):
			errs = append(errs, fmt.Errorf("%s.name: %q may only hold letters, digits, '-', '_' and '.'", key, f.Name))
		case len(f.Name) > record.MaxFeedNameLen:
			errs = append(errs, fmt.Errorf("%s.name: longer than %d bytes", key, record.MaxFeedNameLen))
		default:
			if j, dup := seen[f.Name]; dup {
				errs = append(errs, fmt.Errorf("%s.name: %q already names feeds[%d]", key, f.Name, j))
			}
			seen[f.Name] = i
		}
		if !knownFormat(f.Format) {
			errs = append(errs, fmt.Errorf("%s.format: unknown format %q (known: %v)", key, f.Format, formats))
		}
		switch {
		case f.File == "" && f.URL == "":
			errs = append(errs, fmt.Errorf("%s: one of file or url is required", key))
		case f.File != "" && f.URL != "":
			errs = append(errs, fmt.Errorf("%s: file and url are exclusive", key))
		case f.URL != "":
			if u, err := url.Parse(f.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				errs = append(errs, fmt.Errorf("%s.url: %q is not an http(s) URL", key, f.URL))
			}
		}
		if f.Refresh < 0 {
			errs = append(errs, fmt.Errorf("%s.refresh: must not be negative, got %s", key, f.Refresh))
		}
	}
	return errors.Join(errs...)
}

// refresh is the configured period or the default for the feed's source.
func (f FeedConfig) refresh() time.Duration {
	switch {
	case f.Refresh > 0:
		return f.Refresh
	case f.URL != "":
		return DefaultURLRefresh
	}
	return DefaultFileRefresh
}

func validName(name string) bool {
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return name != "." && name != ".."
}

func knownFormat(format string) bool {
	for _, f := range formats {
		if f == format {
			return true
		}
	}
	return false
}
