package geoip

import (
	"fmt"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"
)

// layout is how a database's records are shaped. MaxMind and DB-IP share
// the nested GeoIP2 shape; IPinfo uses flat string fields.
type layout uint8

const (
	// layoutMaxMind: GeoLite2/GeoIP2 City, Country, ASN and ISP, and DB-IP
	// lite city, country and ASN (which declare GeoLite2 compatibility).
	layoutMaxMind layout = iota + 1
	// layoutIPinfo: IPinfo MMDB files (country_asn, lite, country, asn,
	// location): flat fields country, country_code, city, asn "AS13335",
	// as_name (name in the ASN database).
	layoutIPinfo
)

func (l layout) String() string {
	switch l {
	case layoutMaxMind:
		return "maxmind"
	case layoutIPinfo:
		return "ipinfo"
	}
	return "unknown"
}

// detectLayout reads the database_type of the metadata. IPinfo writes
// "ipinfo <file name>" there (e.g. "ipinfo country_asn.mmdb"), MaxMind
// "GeoLite2-City", "GeoIP2-Country", "GeoLite2-ASN", and DB-IP
// "DBIP-City-Lite", "DBIP-Country-Lite", "DBIP-ASN-Lite (compat=GeoLite2-ASN)".
func detectLayout(databaseType string) (layout, error) {
	switch {
	case strings.Contains(strings.ToLower(databaseType), "ipinfo"):
		return layoutIPinfo, nil
	case strings.HasPrefix(databaseType, "GeoLite2-"),
		strings.HasPrefix(databaseType, "GeoIP2-"),
		strings.HasPrefix(databaseType, "DBIP-"):
		return layoutMaxMind, nil
	}
	return 0, fmt.Errorf("unsupported database_type %q: supported are GeoLite2-*/GeoIP2-* (City, Country, ASN, ISP), DBIP-* (lite city, country, ASN) and ipinfo *", databaseType)
}

// maxmindRecord holds the fields sluice reads from the GeoIP2 shape. ASN
// and geography live in separate MaxMind files but share no key, so one
// struct decodes either.
type maxmindRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	// RegisteredCountry stands in when country is absent (MaxMind leaves
	// it out for some anycast and satellite networks).
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
	City struct {
		Names struct {
			English string `maxminddb:"en"`
		} `maxminddb:"names"`
	} `maxminddb:"city"`
	ASN          uint32 `maxminddb:"autonomous_system_number"`
	Organization string `maxminddb:"autonomous_system_organization"`
}

// ipinfoRecord covers IPinfo's free files: in country_asn "country" is the
// ISO code; in lite "country" is the name and "country_code" the ISO code.
type ipinfoRecord struct {
	Country     string `maxminddb:"country"`
	CountryCode string `maxminddb:"country_code"`
	City        string `maxminddb:"city"`
	ASN         string `maxminddb:"asn"`
	ASName      string `maxminddb:"as_name"`
	// Name is the AS name in IPinfo's ASN database (standard_asn).
	Name string `maxminddb:"name"`
}

// decode reads the record of res into a Result. It allocates (strings);
// the cache makes it happen once per distinct record.
func (l layout) decode(res maxminddb.Result) (Result, error) {
	switch l {
	case layoutMaxMind:
		var rec maxmindRecord
		if err := res.Decode(&rec); err != nil {
			return Result{}, err
		}
		country := rec.Country.ISOCode
		if country == "" {
			country = rec.RegisteredCountry.ISOCode
		}
		return Result{Country: country, City: rec.City.Names.English, ASN: rec.ASN, ASName: rec.Organization}, nil
	case layoutIPinfo:
		var rec ipinfoRecord
		if err := res.Decode(&rec); err != nil {
			return Result{}, err
		}
		country := rec.CountryCode
		if country == "" && len(rec.Country) == 2 {
			country = rec.Country
		}
		asName := rec.ASName
		if asName == "" {
			asName = rec.Name
		}
		return Result{Country: country, City: rec.City, ASN: parseASN(rec.ASN), ASName: asName}, nil
	}
	return Result{}, fmt.Errorf("unknown layout %d", l)
}

// parseASN reads IPinfo's "AS13335"; anything else is 0 (unknown).
func parseASN(s string) uint32 {
	if len(s) < 3 || (s[0] != 'A' && s[0] != 'a') || (s[1] != 'S' && s[1] != 's') {
		return 0
	}
	var n uint64
	for _, c := range s[2:] {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + uint64(c-'0')
		if n > 1<<32-1 {
			return 0
		}
	}
	return uint32(n)
}
