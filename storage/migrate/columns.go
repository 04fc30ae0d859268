package migrate

import (
	"fmt"
	"strings"

	"sluice/pipeline/record"
	"sluice/storage/clickhouse"
)

// columnDefinition is a column of the flows table as CREATE TABLE and
// ADD COLUMN write it: name, type, comment, codec (ClickHouse wants COMMENT
// before CODEC).
func columnDefinition(c record.Column) string {
	var b strings.Builder
	b.WriteString(clickhouse.QuoteIdentifier(c.Name))
	b.WriteString(" ")
	b.WriteString(c.Type)
	if c.Doc != "" {
		b.WriteString(" COMMENT ")
		b.WriteString(clickhouse.QuoteString(c.Doc))
	}
	if c.Codec != "" {
		b.WriteString(" ")
		b.WriteString(c.Codec)
	}
	return b.String()
}

// addFlowColumns returns a migration adding record columns to an existing
// flows table, in table order. A table created at this version or later
// already has them (CreateFlowsTable takes every column), hence IF NOT
// EXISTS; new columns go at the end of record.Columns, so an upgraded table
// and a new one have the same column order. In cluster mode the column is
// added, on every node, to the local data table and to the Distributed
// table over it.
func addFlowColumns(names ...string) func(Config) []string {
	return func(cfg Config) []string {
		tables := []string{cfg.dataTable("flows")}
		if cfg.clustered() {
			tables = append(tables, FlowsTable)
		}
		var stmts []string
		for _, table := range tables {
			for _, name := range names {
				c, ok := columnByName(name)
				if !ok {
					panic(fmt.Sprintf("migrate: column %s is not in record.Columns", name))
				}
				stmts = append(stmts, "ALTER TABLE "+table+cfg.onCluster()+" ADD COLUMN IF NOT EXISTS "+columnDefinition(c))
			}
		}
		return stmts
	}
}

func columnByName(name string) (record.Column, bool) {
	for _, c := range record.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return record.Column{}, false
}

// mplsVRFNATColumns are the columns schema version 5 adds.
var mplsVRFNATColumns = []string{
	"MPLS1stLabel", "MPLS2ndLabel", "MPLS3rdLabel", "IngressVRFID", "EgressVRFID",
	"SrcAddrNAT", "DstAddrNAT", "SrcPortNAT", "DstPortNAT",
}

// firewallColumns are the columns schema version 9 adds: Cisco ASA NSEL's
// firewall event fields.
var firewallColumns = []string{
	"FirewallEvent", "FirewallExtEvent",
	"IngressACL", "IngressACE", "IngressACEExt", "EgressACL", "EgressACE", "EgressACEExt",
}

// enrichmentColumns are the columns schema version 6 adds: what
// pipeline/enrich fills (exporter, network, GeoIP, interface, threat,
// service, direction and Community ID).
var enrichmentColumns = func() []string {
	var names []string
	for _, c := range record.Columns {
		if c.Field >= firstEnrichmentField && c.Field <= lastEnrichmentField {
			names = append(names, c.Name)
		}
	}
	return names
}()

// The protobuf field numbers of the version 6 columns, from ExporterName to
// CommunityID.
const (
	firstEnrichmentField = 48
	lastEnrichmentField  = 86
)
