package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sluice/internal/demo"
	"sluice/internal/testenv"
	"sluice/pipeline/enrich/geoip/geoiptest"
	"sluice/pipeline/enrich/snmp/snmptest"
)

// A FireHOL netset and an abuse.ch Feodo Tracker CSV, in their published
// formats. level1 lists private space, which own-networks must shield.
const (
	fireholLevel1 = `#
# firehol_level1
#
# ipv4 hash:net ipset
#
# Maintainer      : FireHOL
# List source URL :
#
# This File Date  : Tue Nov 24 03:30:21 UTC 2026
#
10.0.0.0/8
81.2.69.0/24
203.0.113.64/26
`
	feodoHeader = `################################################################
# abuse.ch Feodo Tracker Botnet C2 IP Blocklist (CSV)          #
# Last updated: 2026-11-24 03:05:08 UTC                        #
################################################################
#
"first_seen_utc","dst_ip","dst_port","c2_status","last_online","malware"
"2021-01-17 07:44:46","5.6.7.8","443","online","2026-11-24","Pikabot"
`
)

// geoDatabases builds a GeoLite2-City and a GeoLite2-ASN database with
// mmdbwriter; city names the city of 81.2.69.0/24.
func geoDatabases(t *testing.T, country, city string) (cityDB, asnDB []byte) {
	cityDB = geoiptest.Build(t, "GeoLite2-City", time.Now().Unix(), []geoiptest.Network{
		{CIDR: "81.2.69.0/24", Record: geoiptest.CityRecord(country, country, city)},
		{CIDR: "5.6.7.0/24", Record: geoiptest.CityRecord("NL", "NL", "Amsterdam")},
	})
	asnDB = geoiptest.Build(t, "GeoLite2-ASN", time.Now().Unix(), []geoiptest.Network{
		{CIDR: "81.2.69.0/24", Record: geoiptest.ASNRecord(64500, "Example Transit")},
		{CIDR: "5.6.7.0/24", Record: geoiptest.ASNRecord(64501, "Example Hosting")},
	})
	return cityDB, asnDB
}

// replace writes data beside path and renames it over path, as feed and
// database updaters do.
func replace(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path+".new", data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
}

// enrichFlow is a NetFlow v5 flow for the enrichment tests.
func enrichFlow(src, dst string, sport, dport uint16, in, out uint32) demo.Flow {
	now := time.Now()
	return demo.Flow{
		SrcAddr: netip.MustParseAddr(src), DstAddr: netip.MustParseAddr(dst),
		SrcPort: sport, DstPort: dport, IPProto: 6, InIf: in, OutIf: out,
		Bytes: 1500, Packets: 1, Start: now.Add(-time.Second), End: now,
	}
}

// sendV5 sends flows as one NetFlow v5 datagram from 127.0.0.1, the
// address the SNMP agent answers on.
func sendV5(s *sender, in *instance, flows ...demo.Flow) {
	now := time.Now()
	payload := demo.AppendNetFlow5(nil, demo.NetFlow5Header{Boot: now.Add(-time.Hour), ExportTime: now}, flows)
	s.send(netip.MustParseAddr("127.0.0.1"), in.netflow, payload)
}

// waitRows polls the store until query returns want (TSV, trimmed).
func waitRows(t *testing.T, in *instance, query, want string) {
	t.Helper()
	testenv.EventuallyState(t, 30*time.Second, "the rows of "+query, func() (bool, string) {
		got := strings.TrimRight(in.sql(query, "TSV"), "\n")
		return got == want, fmt.Sprintf("\n got: %q\nwant: %q", got, want)
	})
}

// TestRunEnrichment sends flows through `sluice run` with every
// configuration-driven enrichment and a real SNMP agent, and reads the
// enriched columns back from storage; then stops the agent and restarts
// sluice, and records still flow with the names SNMP gave before.
func TestRunEnrichment(t *testing.T) {
	requireChdb(t)
	agent := snmptest.Start(t, snmptest.Config{
		SysName: "edge-lab-1", Community: "public",
		Interfaces: []snmptest.Interface{
			{Index: 1001, Name: "et-0/0/1", Alias: "transit: AS64500", HighSpeed: 10000},
			{Index: 1002, Name: "ge-0/0/2", Alias: "lan", HighSpeed: 1000},
		},
	})
	dir := t.TempDir()
	networks := filepath.Join(dir, "networks.csv")
	if err := os.WriteFile(networks, []byte("prefix,name,site,tenant\n10.1.0.0/16,dc-par,par1,acme\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cityPath, asnPath := filepath.Join(dir, "city.mmdb"), filepath.Join(dir, "asn.mmdb")
	cityDB, asnDB := geoDatabases(t, "DE", "Berlin")
	replace(t, cityPath, cityDB)
	replace(t, asnPath, asnDB)
	fireholPath, feodoPath := filepath.Join(dir, "firehol_level1.netset"), filepath.Join(dir, "ipblocklist.csv")
	replace(t, fireholPath, []byte(fireholLevel1))
	replace(t, feodoPath, []byte(feodoHeader+"# Number of entries: 1\n"))
	config := filepath.Join(dir, "sluice.yaml")
	err := os.WriteFile(config, fmt.Appendf(nil, `enrich:
  own-networks: [10.0.0.0/8]
  exporters:
    - prefix: 127.0.0.1/32
      site: lab
      role: border
  interfaces:
    - exporter: 127.0.0.0/8
      index: 1001
      boundary: external
      provider: as64500
      connectivity: transit
  networks:
    file: %s
  rules:
    - name: drop-discard
      if: DstPort == 9
      drop: true
  snmp:
    enabled: true
    port: %d
    timeout: 1s
    retries: 0
    interval: 1m
    expire: 1h
  geoip:
    geo-database: %s
    asn-database: %s
    check-interval: 200ms
  threat:
    feeds:
      - name: firehol_level1
        format: firehol-netset
        file: %s
        refresh: 200ms
      - name: feodo
        format: feodo-csv
        file: %s
        refresh: 200ms
`, networks, agent.Port(), cityPath, asnPath, fireholPath, feodoPath), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	in := startSluice(t, data, "--config", config)
	s := newSender(t)

	// The first records of a new exporter only start its SNMP poll: send
	// until a stored record carries the sysName.
	testenv.Eventually(t, 30*time.Second, "a record named by SNMP", func() bool {
		if in.count("ExporterName = 'edge-lab-1'") > 0 {
			return true
		}
		sendV5(s, in, enrichFlow("192.0.2.1", "192.0.2.2", 40000, 40001, 1001, 1002))
		return false
	})

	sendV5(s, in,
		enrichFlow("10.1.2.3", "81.2.69.7", 50000, 443, 1001, 1002), // outbound https
		enrichFlow("1.2.3.4", "5.6.7.8", 1122, 3344, 1002, 1001),    // the Community ID spec's TCP flow
		enrichFlow("10.1.2.3", "10.9.9.9", 50001, 9, 1002, 1002),    // dropped by the rule
	)
	cols := "ExporterName, ExporterSite, ExporterRole, InIfName, InIfDescription, InIfSpeed, InIfBoundary, InIfProvider, InIfConnectivity, " +
		"OutIfName, OutIfSpeed, SrcNetName, SrcNetSite, SrcNetTenant, DstNetName, TrafficDirection, ServiceName, CommunityID"
	waitRows(t, in, "SELECT "+cols+" FROM flows WHERE DstPort = 443",
		"edge-lab-1\tlab\tborder\tet-0/0/1\ttransit: AS64500\t10000000000\texternal\tas64500\ttransit\t"+
			"ge-0/0/2\t1000000000\tdc-par\tpar1\tacme\t\toutbound\thttps\t"+communityIDOf(t, in, 443))
	waitRows(t, in, "SELECT InIfName, InIfBoundary, OutIfName, OutIfBoundary, TrafficDirection, CommunityID FROM flows WHERE DstPort = 3344",
		"ge-0/0/2\tundefined\tet-0/0/1\texternal\ttransit\t1:wCb3OG7yAFWelaUydu0D+125CLM=")
	waitRows(t, in, "SELECT SrcCountry, DstCountry, DstGeoCity, DstAS, DstASName, SrcThreatFeeds, DstThreatFeeds FROM flows WHERE DstPort = 443",
		"\tDE\tBerlin\t64500\tExample Transit\t[]\t['firehol_level1']")
	waitRows(t, in, "SELECT DstCountry, DstAS, DstASName, DstThreatFeeds FROM flows WHERE DstPort = 3344",
		"NL\t64501\tExample Hosting\t['feodo']")
	if n := in.count("DstPort = 9"); n != 0 {
		t.Errorf("%d records the rule drops were stored", n)
	}
	if m := in.metrics("sluice_pipeline_enrich_dropped_total"); m[`sluice_pipeline_enrich_dropped_total{rule="drop-discard"}`] != 1 {
		t.Errorf("dropped metric: %v", m)
	}

	// Databases and feeds replaced while records flow are used without a
	// restart.
	cityDB, _ = geoDatabases(t, "FR", "Paris")
	replace(t, cityPath, cityDB)
	replace(t, feodoPath, []byte(feodoHeader+`"2025-09-30 22:10:05","81.2.69.20","2222","online","2026-11-23","BumbleBee"`+"\n# Number of entries: 2\n"))
	testenv.Eventually(t, 30*time.Second, "the replaced database and feed to be used", func() bool {
		if in.count("DstGeoCity = 'Paris' AND has(DstThreatFeeds, 'feodo')") > 0 {
			return true
		}
		sendV5(s, in, enrichFlow("10.1.2.3", "81.2.69.20", 50010, 443, 1001, 1002))
		return false
	})
	waitRows(t, in, "SELECT DstCountry, DstThreatFeeds FROM flows WHERE DstGeoCity = 'Paris' AND has(DstThreatFeeds, 'feodo') LIMIT 1",
		"FR\t['firehol_level1','feodo']")

	// The agent goes away: records still flow, with the names polled
	// before; an interface it never described stays unnamed and counted.
	agent.Stop()
	missesBefore := in.metrics("sluice_pipeline_enrich_interface_misses_total")[`sluice_pipeline_enrich_interface_misses_total{side="in"}`]
	sendV5(s, in,
		enrichFlow("10.1.2.3", "81.2.69.8", 50002, 443, 1001, 1002),
		enrichFlow("10.1.2.3", "81.2.69.9", 50003, 443, 1003, 1002),
	)
	waitRows(t, in, "SELECT InIfName, OutIfName, ExporterName FROM flows WHERE DstAddr = toIPv6('::ffff:81.2.69.8')",
		"et-0/0/1\tge-0/0/2\tedge-lab-1")
	waitRows(t, in, "SELECT InIfName, OutIfName FROM flows WHERE DstAddr = toIPv6('::ffff:81.2.69.9')", "\tge-0/0/2")
	if after := in.metrics("sluice_pipeline_enrich_interface_misses_total")[`sluice_pipeline_enrich_interface_misses_total{side="in"}`]; after < missesBefore+1 {
		t.Errorf("interface misses %v → %v, want the unknown interface counted", missesBefore, after)
	}
	if m := in.metrics("sluice_pipeline_enrich_snmp_misses_total"); len(m) == 0 {
		t.Error("no SNMP miss metric")
	}

	// Restarted with the agent still down, sluice names interfaces from
	// the cache it saved.
	in.stop()
	in = startSluice(t, data, "--config", config)
	sendV5(s, in, enrichFlow("10.1.2.3", "81.2.69.10", 50004, 443, 1001, 1002))
	waitRows(t, in, "SELECT InIfName, InIfSpeed, ExporterName FROM flows WHERE DstAddr = toIPv6('::ffff:81.2.69.10')",
		"et-0/0/1\t10000000000\tedge-lab-1")
	in.stop()
}

// communityIDOf reads the Community ID the store holds for the flow to
// port, after checking it is the spec's text form; its value is checked
// against the spec's vectors in pipeline/enrich.
func communityIDOf(t *testing.T, in *instance, port int) string {
	t.Helper()
	var id string
	testenv.Eventually(t, 30*time.Second, fmt.Sprintf("a record to port %d", port), func() bool {
		id = strings.TrimSpace(in.sql(fmt.Sprintf("SELECT CommunityID FROM flows WHERE DstPort = %d", port), "TSV"))
		return id != ""
	})
	if !strings.HasPrefix(id, "1:") || len(id) != 30 {
		t.Fatalf("Community ID %q is not in the v1 text form", id)
	}
	return id
}
