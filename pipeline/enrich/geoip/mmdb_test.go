package geoip

import (
	"bytes"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"sluice/reporter"
)

// network is one entry of a test database.
type network struct {
	cidr   string
	record mmdbtype.Map
}

// buildMMDB writes a database of the given type with mmdbwriter and returns
// its bytes. Aliasing puts the IPv4 tree under ::ffff:0:0/96 as in real
// MaxMind files.
func buildMMDB(tb testing.TB, databaseType string, buildEpoch int64, networks []network) []byte {
	tb.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: databaseType, RecordSize: 28, IPVersion: 6, BuildEpoch: buildEpoch,
		Description: map[string]string{"en": "sluice test database"},
	})
	if err != nil {
		tb.Fatal(err)
	}
	for _, n := range networks {
		_, ipnet, err := net.ParseCIDR(n.cidr)
		if err != nil {
			tb.Fatal(err)
		}
		if err := tree.Insert(ipnet, n.record); err != nil {
			tb.Fatalf("insert %s: %v", n.cidr, err)
		}
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(tb testing.TB, path string, data []byte) {
	tb.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// replaceFile writes data beside path and renames it over path, the way
// geoipupdate and most download scripts install a new database.
func replaceFile(tb testing.TB, path string, data []byte) {
	tb.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".new")
	writeFile(tb, tmp, data)
	if err := os.Rename(tmp, path); err != nil {
		tb.Fatal(err)
	}
}

// cityRecord is a GeoLite2-City record with the fields real files carry
// around the ones sluice reads.
func cityRecord(country, registered, city string) mmdbtype.Map {
	rec := mmdbtype.Map{
		"continent": mmdbtype.Map{"code": mmdbtype.String("EU"), "geoname_id": mmdbtype.Uint32(6255148),
			"names": mmdbtype.Map{"en": mmdbtype.String("Europe")}},
		"location": mmdbtype.Map{"accuracy_radius": mmdbtype.Uint16(100),
			"latitude": mmdbtype.Float64(51.5142), "longitude": mmdbtype.Float64(-0.0931)},
		"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String(registered), "geoname_id": mmdbtype.Uint32(2635167)},
	}
	if country != "" {
		rec["country"] = mmdbtype.Map{"iso_code": mmdbtype.String(country), "geoname_id": mmdbtype.Uint32(2635167),
			"names": mmdbtype.Map{"en": mmdbtype.String("Country " + country), "de": mmdbtype.String("Land " + country)}}
	}
	if city != "" {
		rec["city"] = mmdbtype.Map{"geoname_id": mmdbtype.Uint32(2643743),
			"names": mmdbtype.Map{"en": mmdbtype.String(city), "fr": mmdbtype.String(city + " (fr)")}}
	}
	return rec
}

func asnRecord(asn uint32, org string) mmdbtype.Map {
	return mmdbtype.Map{
		"autonomous_system_number":       mmdbtype.Uint32(asn),
		"autonomous_system_organization": mmdbtype.String(org),
	}
}

// ipinfoCountryASN is a record of IPinfo's free country_asn.mmdb.
func ipinfoCountryASN(country, countryName, asn, asName string) mmdbtype.Map {
	return mmdbtype.Map{
		"country": mmdbtype.String(country), "country_name": mmdbtype.String(countryName),
		"continent": mmdbtype.String("EU"), "continent_name": mmdbtype.String("Europe"),
		"asn": mmdbtype.String(asn), "as_name": mmdbtype.String(asName), "as_domain": mmdbtype.String("example.net"),
	}
}

func newReporter() *reporter.Reporter {
	return reporter.New(slog.New(slog.DiscardHandler)).Sub("enrich/geoip")
}

// metricValue sums the samples of a metric (name without the prefix) whose
// labels include every given name=value pair.
func metricValue(tb testing.TB, g prometheus.Gatherer, name string, labels ...string) float64 {
	tb.Helper()
	families, err := g.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if !strings.HasSuffix(f.GetName(), "_"+name) {
			continue
		}
	samples:
		for _, m := range f.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if !hasLabel(m, labels[i], labels[i+1]) {
					continue samples
				}
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}
