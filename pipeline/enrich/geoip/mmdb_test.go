package geoip

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"sluice/internal/reporter"
	"sluice/pipeline/enrich/geoip/geoiptest"
)

// network is one entry of a test database.
type network = geoiptest.Network

func buildMMDB(tb testing.TB, databaseType string, buildEpoch int64, networks []network) []byte {
	tb.Helper()
	return geoiptest.Build(tb, databaseType, buildEpoch, networks)
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

var (
	cityRecord = geoiptest.CityRecord
	asnRecord  = geoiptest.ASNRecord
)

// ipinfoCountryASN is a record of IPinfo's free country_asn.mmdb.
func ipinfoCountryASN(country, countryName, asn, asName string) mmdbtype.Map {
	return mmdbtype.Map{
		"country": mmdbtype.String(country), "country_name": mmdbtype.String(countryName),
		"continent": mmdbtype.String("EU"), "continent_name": mmdbtype.String("Europe"),
		"asn": mmdbtype.String(asn), "as_name": mmdbtype.String(asName), "as_domain": mmdbtype.String("example.net"),
	}
}

func newReporter() *reporter.Reporter {
	return reporter.New(slog.New(slog.DiscardHandler))
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
