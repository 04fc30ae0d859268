package geoip

import (
	"errors"
	"fmt"
	"time"
)

// Config is the `geoip:` section of the enrichment configuration.
type Config struct {
	// GeoDatabase is a country or city database (GeoLite2/GeoIP2 City or
	// Country, DB-IP lite city or country, IPinfo); "" turns country and
	// city off.
	GeoDatabase string `yaml:"geo-database"`
	// ASNDatabase is an ASN database (GeoLite2-ASN, DB-IP ASN lite,
	// IPinfo); "" turns it off. A database that carries both (IPinfo
	// country_asn or lite) may be given alone as geo-database: its ASN
	// fields are used when asn-database is empty, and the same file may be
	// named in both keys (it is then opened once).
	ASNDatabase string `yaml:"asn-database"`
	// CheckInterval is how often the files are looked at for a
	// replacement.
	CheckInterval time.Duration `yaml:"check-interval"`
}

// DefaultConfig has no database and checks for new files every 30 seconds.
func DefaultConfig() Config {
	return Config{CheckInterval: 30 * time.Second}
}

// Validate names bad keys.
func (c Config) Validate() error {
	var errs []error
	if c.CheckInterval <= 0 {
		errs = append(errs, fmt.Errorf("check-interval: must be positive, got %s", c.CheckInterval))
	}
	return errors.Join(errs...)
}
