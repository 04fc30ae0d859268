// Package queries is sluice's library of the questions analysts ask every
// day: top talkers, top AS and protocols, traffic over time, interface
// utilisation, new destinations. Each query is SQL over the flows table or
// one of its rollups. Build picks the coarsest table that can answer: one
// that holds every column the query needs, keeps rows for the whole range,
// and is fine enough in time for the range; of the rollups of that grain,
// the narrowest family (fewest rows per bucket) that answers. Bytes and
// packets are always scaled by the sampling rate.
//
// Build only writes SQL. The caller runs it, for instance through the
// read-only SQL endpoint (`sluice query`).
package queries

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"sluice/storage/clickhouse"
	"sluice/storage/migrate"
)

// Query is one library query.
type Query struct {
	Name        string
	Description string
	// Columns are the flow columns the query reads besides TimeReceived
	// and the counters; they decide which tables can answer it.
	Columns []string
	// TimeSeries queries group by time bucket: the table's grain must be
	// fine enough to give a useful curve.
	TimeSeries bool
	// SeriesKeys, for a query that answers several time series (bits/s
	// per exporter, per interface), are the columns that tell the series
	// apart. With Params.Limit, Build keeps the Limit series with the most
	// bytes over the range (ties in the order of the keys); without it,
	// every series.
	SeriesKeys []string
	// SQL is the query, with placeholders filled by Build:
	//   {table}    the table read
	//   {where}    the time range, the exporter filter if given, and for
	//              SeriesKeys with a limit, the filter that keeps the top
	//              series
	//   {bytes} {packets} {flows}  the sampling-scaled counter sums
	//   {bucket}   TimeReceived truncated to the series' step (TimeSeries)
	//   {step}     the series' step in seconds
	//   {limit}    the row limit (queries without SeriesKeys)
	// and for Direct queries:
	//   {flowtime} the range by the flows' own start time (TimeFlowStart)
	//   {alerttime} alerts whose evidence overlaps the range
	//   {address}  Params.Address as ClickHouse's IPv6
	//   {alert}    Params.Alert, quoted
	SQL string
	// Direct queries name their tables themselves (the raw flows, judged
	// by flow time, or the alerts table): no rollup can answer them.
	Direct bool
	// Needs names the parameters the query cannot do without (address,
	// alert).
	Needs []string
}

// Params are a query's parameters.
type Params struct {
	// From and To bound TimeReceived: From <= TimeReceived < To.
	From, To time.Time
	// Limit bounds the rows of top-N queries (default 10), and the series
	// of queries with SeriesKeys to the Limit series with the most bytes
	// (default every series).
	Limit int
	// Exporter, when valid, keeps only that exporter's flows.
	Exporter netip.Addr
	// Baseline is, for new-destinations, how far back before From a
	// destination must not have been seen. Default 7 days.
	Baseline time.Duration
	// Address is the host of host-timeline.
	Address netip.Addr
	// Alert is the alert ID of alert-evidence.
	Alert string
	// Align lets Build widen the range to whole buckets of a rollup whose
	// buckets are small beside the range (at most 1/24 of it), so that
	// "the last hour" is answered from the 1-minute rollup; Built says
	// which range was used. Without it, a rollup is used only when the
	// range already falls on its buckets, and the answer is exact.
	Align bool
}

// Library lists every query, by name.
var Library = []Query{
	{
		Name: "top-sources", Description: "source addresses by traffic",
		Columns: []string{"SrcAddr"},
		SQL:     "SELECT SrcAddr, {bytes} AS Bytes, {packets} AS Packets, {flows} AS Flows FROM {table} WHERE {where} GROUP BY SrcAddr ORDER BY Bytes DESC, SrcAddr LIMIT {limit}",
	},
	{
		Name: "top-destinations", Description: "destination addresses by traffic",
		Columns: []string{"DstAddr"},
		SQL:     "SELECT DstAddr, {bytes} AS Bytes, {packets} AS Packets, {flows} AS Flows FROM {table} WHERE {where} GROUP BY DstAddr ORDER BY Bytes DESC, DstAddr LIMIT {limit}",
	},
	{
		Name: "top-pairs", Description: "source and destination address pairs by traffic",
		Columns: []string{"SrcAddr", "DstAddr"},
		SQL:     "SELECT SrcAddr, DstAddr, {bytes} AS Bytes, {packets} AS Packets, {flows} AS Flows FROM {table} WHERE {where} GROUP BY SrcAddr, DstAddr ORDER BY Bytes DESC, SrcAddr, DstAddr LIMIT {limit}",
	},
	{
		Name: "top-conversations", Description: "conversations (addresses, protocol, ports) by traffic",
		Columns: []string{"SrcAddr", "DstAddr", "Proto", "SrcPort", "DstPort"},
		SQL:     "SELECT SrcAddr, DstAddr, Proto, SrcPort, DstPort, {bytes} AS Bytes, {packets} AS Packets, {flows} AS Flows FROM {table} WHERE {where} GROUP BY SrcAddr, DstAddr, Proto, SrcPort, DstPort ORDER BY Bytes DESC, SrcAddr, DstAddr, Proto, SrcPort, DstPort LIMIT {limit}",
	},
	{
		Name: "top-src-as", Description: "source AS numbers, with their names, by traffic",
		Columns: []string{"SrcAS"},
		SQL: "SELECT SrcAS, dictGetOrDefault('sluice.asn_names_dict', 'Name', toUInt64(SrcAS), '') AS Name, " +
			"{bytes} AS Bytes, {packets} AS Packets, {flows} AS Flows FROM {table} WHERE {where} GROUP BY SrcAS ORDER BY Bytes DESC, SrcAS LIMIT {limit}",
	},
	{
		Name: "top-dst-as", Description: "destination AS numbers, with their names, by traffic",
		Columns: []string{"DstAS"},
		SQL: "SELECT DstAS, dictGetOrDefault('sluice.asn_names_dict', 'Name', toUInt64(DstAS), '') AS Name, " +
			"{bytes} AS Bytes, {packets} AS Packets, {flows} AS Flows FROM {table} WHERE {where} GROUP BY DstAS ORDER BY Bytes DESC, DstAS LIMIT {limit}",
	},
	{
		Name: "top-services", Description: "destination ports (with protocol and well-known service name) by traffic",
		Columns: []string{"Proto", "DstPort"},
		SQL: "SELECT Proto, DstPort, dictGetOrDefault('sluice.services_dict', 'Name', (Proto, DstPort), '') AS Service, " +
			"{bytes} AS Bytes, {packets} AS Packets, {flows} AS Flows FROM {table} WHERE {where} GROUP BY Proto, DstPort ORDER BY Bytes DESC, Proto, DstPort LIMIT {limit}",
	},
	{
		Name: "top-protocols", Description: "IP protocols by traffic",
		Columns: []string{"EType", "Proto"},
		SQL:     "SELECT EType, Proto, {bytes} AS Bytes, {packets} AS Packets, {flows} AS Flows FROM {table} WHERE {where} GROUP BY EType, Proto ORDER BY Bytes DESC, EType, Proto LIMIT {limit}",
	},
	{
		Name: "traffic-by-exporter", Description: "bits per second over time, per exporter",
		Columns: []string{"ExporterAddress"}, TimeSeries: true,
		SeriesKeys: []string{"ExporterAddress"},
		SQL:        "SELECT {bucket} AS Time, ExporterAddress, intDiv({bytes} * 8, {step}) AS Bps, intDiv({packets}, {step}) AS Pps FROM {table} WHERE {where} GROUP BY Time, ExporterAddress ORDER BY Time, ExporterAddress",
	},
	{
		Name: "traffic-by-interface", Description: "bits per second over time, per exporter and input interface",
		Columns: []string{"ExporterAddress", "InIfIndex"}, TimeSeries: true,
		SeriesKeys: []string{"ExporterAddress", "InIfIndex"},
		SQL:        "SELECT {bucket} AS Time, ExporterAddress, InIfIndex, intDiv({bytes} * 8, {step}) AS Bps FROM {table} WHERE {where} GROUP BY Time, ExporterAddress, InIfIndex ORDER BY Time, ExporterAddress, InIfIndex",
	},
	{
		Name: "traffic-by-direction", Description: "bits per second over time, per flow direction (0 unknown, 1 ingress, 2 egress)",
		Columns: []string{"FlowDirection"}, TimeSeries: true,
		SeriesKeys: []string{"FlowDirection"},
		SQL:        "SELECT {bucket} AS Time, FlowDirection, intDiv({bytes} * 8, {step}) AS Bps FROM {table} WHERE {where} GROUP BY Time, FlowDirection ORDER BY Time, FlowDirection",
	},
	{
		Name: "traffic-by-forwarding-status", Description: "bits per second over time, per forwarding status (RFC 7270: 64 forwarded, 128 dropped, ...)",
		Columns: []string{"ForwardingStatus"}, TimeSeries: true,
		SeriesKeys: []string{"ForwardingStatus"},
		SQL:        "SELECT {bucket} AS Time, ForwardingStatus, intDiv({bytes} * 8, {step}) AS Bps FROM {table} WHERE {where} GROUP BY Time, ForwardingStatus ORDER BY Time, ForwardingStatus",
	},
	interfaceUtilisation("Out", "output"),
	interfaceUtilisation("In", "input"),
	{
		Name: "traffic-by-traffic-direction", Description: "bits per second over time, per direction relative to the own networks (inbound, outbound, internal, transit)",
		Columns: []string{"TrafficDirection"}, TimeSeries: true,
		SeriesKeys: []string{"TrafficDirection"},
		SQL:        "SELECT {bucket} AS Time, TrafficDirection, intDiv({bytes} * 8, {step}) AS Bps FROM {table} WHERE {where} GROUP BY Time, TrafficDirection ORDER BY Time, TrafficDirection",
	},
	seriesBy("traffic-by-src-site", "bits per second over time, per source network site (empty: not in a configured network)", "SrcNetSite"),
	seriesBy("traffic-by-dst-site", "bits per second over time, per destination network site (empty: not in a configured network)", "DstNetSite"),
	topN("top-src-countries", "source countries (ISO 3166-1 alpha-2) by traffic", "SrcCountry"),
	topN("top-dst-countries", "destination countries (ISO 3166-1 alpha-2) by traffic", "DstCountry"),
	topN("site-matrix", "traffic between source and destination network sites", "SrcNetSite", "DstNetSite"),
	topN("tenant-matrix", "traffic between source and destination network tenants", "SrcNetTenant", "DstNetTenant"),
	{
		Name: "new-destinations", Description: "destinations seen in the range but not in the baseline before it (default 7 days)",
		Columns: []string{"DstAddr"},
		SQL: "SELECT DstAddr, min(TimeReceived) AS FirstSeen, {bytes} AS Bytes, {flows} AS Flows FROM {table} WHERE {where} " +
			// GLOBAL: on a cluster the subquery runs once, over every shard.
			"AND DstAddr GLOBAL NOT IN (SELECT DstAddr FROM {table} WHERE {baseline}) GROUP BY DstAddr ORDER BY FirstSeen, DstAddr LIMIT {limit}",
	},
	// Security: alerts and incident response (storage/detect). These judge
	// flows by their own time (TimeFlowStart), as the detections do.
	{
		Name: "alert-history", Description: "alerts whose evidence overlaps the range, newest first, one row per alert (its last state)",
		Direct: true,
		SQL: "SELECT AlertID, Detection, Severity, State, FirstSeen, LastSeen, Summary, SrcAddr, DstAddr, Bytes, Packets, Flows, ThreatFeeds, Time AS Updated " +
			"FROM " + migrate.AlertsTable + " FINAL WHERE {alerttime} ORDER BY LastSeen DESC, AlertID LIMIT {limit}",
	},
	{
		Name: "alert-evidence", Description: "the flows behind one alert (--param alert=ID): its addresses, port and protocol, between its first and last seen",
		Direct: true, Needs: []string{"alert"},
		SQL: "WITH (SELECT tuple(FirstSeen, LastSeen, SrcAddr, DstAddr, DstPort, Proto) FROM " + migrate.AlertsTable + " FINAL WHERE AlertID = {alert} LIMIT 1) AS a " +
			"SELECT TimeFlowStart, TimeFlowEnd, ExporterAddress, SrcAddr, SrcPort, DstAddr, DstPort, Proto, TCPFlags, " +
			"Bytes * SamplingRate AS Bytes, Packets * SamplingRate AS Packets, SrcThreatFeeds, DstThreatFeeds, CommunityID " +
			"FROM " + migrate.FlowsTable + " WHERE TimeFlowStart >= a.1 AND TimeFlowStart <= a.2 AND TimeReceived >= toDateTime(a.1) - 3600 " +
			"AND (a.3 = toIPv6('::') OR SrcAddr = a.3 OR DstAddr = a.3) AND (a.4 = toIPv6('::') OR SrcAddr = a.4 OR DstAddr = a.4) " +
			"AND (a.5 = 0 OR DstPort = a.5 OR SrcPort = a.5) AND (a.6 = 0 OR Proto = a.6) ORDER BY TimeFlowStart LIMIT {limit}",
	},
	{
		Name: "threat-hits", Description: "addresses threat feeds list, and the hosts that talked with them, by flows",
		Direct: true,
		SQL: "SELECT Hit.1 AS Feed, Hit.2 AS Listed, Hit.3 AS Peer, count() AS Flows, sum(Bytes * SamplingRate) AS Bytes, " +
			"min(TimeFlowStart) AS FirstSeen, max(TimeFlowEnd) AS LastSeen FROM " + migrate.FlowsTable +
			" ARRAY JOIN arrayConcat(arrayMap(f -> (f, SrcAddr, DstAddr), SrcThreatFeeds), arrayMap(f -> (f, DstAddr, SrcAddr), DstThreatFeeds)) AS Hit " +
			"WHERE {flowtime} GROUP BY Feed, Listed, Peer ORDER BY Flows DESC, Feed, Listed, Peer LIMIT {limit}",
	},
	{
		Name: "host-timeline", Description: "every flow of one address (--param address=A), both directions, by flow start, with its enrichment and Community ID (to join Zeek or Suricata events)",
		Direct: true, Needs: []string{"address"},
		SQL: "SELECT TimeFlowStart, TimeFlowEnd, if(SrcAddr = {address}, 'out', 'in') AS Side, SrcAddr, SrcPort, DstAddr, DstPort, Proto, ServiceName, TCPFlags, " +
			"Bytes * SamplingRate AS Bytes, Packets * SamplingRate AS Packets, TrafficDirection, SrcNetName, DstNetName, SrcCountry, DstCountry, SrcAS, DstAS, " +
			"SrcThreatFeeds, DstThreatFeeds, ExporterAddress, ExporterName, InIfName, OutIfName, CommunityID FROM " + migrate.FlowsTable +
			" WHERE {flowtime} AND (SrcAddr = {address} OR DstAddr = {address}) ORDER BY TimeFlowStart, SrcAddr, SrcPort LIMIT {limit}",
	},
}

// topN is a query of the top values of columns by traffic.
func topN(name, description string, columns ...string) Query {
	keys := strings.Join(columns, ", ")
	return Query{
		Name: name, Description: description, Columns: columns,
		SQL: "SELECT " + keys + ", {bytes} AS Bytes, {packets} AS Packets, {flows} AS Flows FROM {table} WHERE {where} GROUP BY " + keys +
			" ORDER BY Bytes DESC, " + keys + " LIMIT {limit}",
	}
}

// seriesBy is a query of bits per second over time, one series per value
// of a column.
func seriesBy(name, description, column string) Query {
	return Query{
		Name: name, Description: description, Columns: []string{column}, TimeSeries: true, SeriesKeys: []string{column},
		SQL: "SELECT {bucket} AS Time, " + column + ", intDiv({bytes} * 8, {step}) AS Bps FROM {table} WHERE {where} GROUP BY Time, " +
			column + " ORDER BY Time, " + column,
	}
}

// interfaceUtilisation is the utilisation query of one side (In, Out):
// per exporter and interface, the average and 95th-percentile bits per
// second over the series' steps, and the 95th percentile against the
// interface's speed (0 when the speed is unknown).
func interfaceUtilisation(side, sideName string) Query {
	name := "interface-utilisation"
	if side == "In" {
		name += "-in"
	}
	index, ifName, speed := side+"IfIndex", side+"IfName", side+"IfSpeed"
	return Query{
		Name:        name,
		Description: "per exporter and " + sideName + " interface: average and 95th-percentile bits per second over the series' steps, and the 95th percentile in percent of the interface speed",
		Columns:     []string{"ExporterAddress", index, ifName, speed}, TimeSeries: true,
		SQL: "SELECT ExporterAddress, " + index + ", IfName AS " + ifName + ", IfSpeed AS " + speed + ", AvgBps, P95Bps, " +
			"if(IfSpeed = 0, 0, P95Bps * 100 / IfSpeed) AS P95Percent FROM (" +
			"SELECT ExporterAddress, " + index + ", max(StepIfName) AS IfName, max(StepIfSpeed) AS IfSpeed, intDiv(sum(StepBytes) * 8, {seconds}) AS AvgBps, " +
			"toUInt64(quantileExact(0.95)(StepBytes * 8 / {step})) AS P95Bps FROM (" +
			"SELECT {bucket} AS Time, ExporterAddress, " + index + ", max(" + ifName + ") AS StepIfName, max(" + speed + ") AS StepIfSpeed, {bytes} AS StepBytes " +
			"FROM {table} WHERE {where} GROUP BY Time, ExporterAddress, " + index +
			") GROUP BY ExporterAddress, " + index + ") ORDER BY AvgBps DESC, ExporterAddress, " + index + " LIMIT {limit}",
	}
}

// Lookup finds a query by name.
func Lookup(name string) (Query, bool) {
	i := slices.IndexFunc(Library, func(q Query) bool { return q.Name == name })
	if i < 0 {
		return Query{}, false
	}
	return Library[i], true
}

// Names lists the library's query names.
func Names() []string {
	names := make([]string, len(Library))
	for i, q := range Library {
		names[i] = q.Name
	}
	return names
}

// source is a table a query can read.
type source struct {
	table    string
	grain    time.Duration // 0 for the raw table
	ttl      time.Duration // 0: kept forever
	columns  []string
	bytes    string
	packets  string
	flows    string
	truncate func(grain time.Duration) string
}

// minSeriesPoints is how many steps a time series gets at least, and so
// how coarse a table may be for a range: a day's curve comes from the
// hourly rollup, an hour's from the 1-minute one.
const minSeriesPoints = 24

// sources lists the rollups coarsest first and, within a grain, in the
// order of migrate.Rollups (narrowest family first); then the raw table.
func sources(cfg migrate.Config) []source {
	var out []source
	for _, r := range migrate.Rollups {
		out = append(out, source{
			table: r.QualifiedTable(), grain: r.Interval, ttl: r.TTL(cfg),
			columns: append(slices.Clone(r.Dimensions), "TimeReceived"),
			bytes:   "sum(Bytes)", packets: "sum(Packets)", flows: "sum(Flows)",
		})
	}
	slices.SortStableFunc(out, func(a, b source) int { return cmp.Compare(b.grain, a.grain) })
	return append(out, source{
		table: migrate.FlowsTable, ttl: cfg.TTL,
		bytes: "sum(Bytes * SamplingRate)", packets: "sum(Packets * SamplingRate)", flows: "count()",
	})
}

// Built is a query ready to run, with the table it reads.
type Built struct {
	SQL   string
	Table string
	// From and To are the range used (moved to the table's grain when
	// Params.Align allowed it).
	From, To time.Time
	// Step is the time series' step (0 for other queries).
	Step time.Duration
}

// Build writes the SQL of q for p, over tables with the retentions of cfg.
func Build(q Query, p Params, cfg migrate.Config, now time.Time) (Built, error) {
	if p.To.IsZero() {
		p.To = now
	}
	if !p.From.Before(p.To) {
		return Built{}, fmt.Errorf("query %s: the range is empty (from %s to %s)", q.Name, p.From.Format(time.RFC3339), p.To.Format(time.RFC3339))
	}
	if p.Limit < 0 {
		return Built{}, fmt.Errorf("query %s: limit must be positive, got %d", q.Name, p.Limit)
	}
	if p.Limit == 0 && len(q.SeriesKeys) == 0 {
		p.Limit = 10
	}
	if p.Baseline == 0 {
		p.Baseline = 7 * 24 * time.Hour
	}
	if q.Direct {
		return buildDirect(q, p)
	}
	src, err := pick(q, sources(cfg), now, &p)
	if err != nil {
		return Built{}, err
	}
	span := p.To.Sub(p.From)
	step := src.grain
	if q.TimeSeries {
		// At least minSeriesPoints steps, on a whole number of the
		// table's grain (or of a second, on the raw table).
		unit := max(src.grain, time.Second)
		step = max(unit, (span / minSeriesPoints).Truncate(unit))
	}
	where := timeRange("TimeReceived", p.From, p.To)
	if p.Exporter.IsValid() {
		where += " AND ExporterAddress = toIPv6(" + clickhouse.QuoteString(mapped(p.Exporter)) + ")"
	}
	if len(q.SeriesKeys) > 0 && p.Limit > 0 {
		where += topSeries(q.SeriesKeys, src, where, p.Limit)
	}
	baseline := timeRange("TimeReceived", p.From.Add(-p.Baseline), p.From)
	if p.Exporter.IsValid() {
		baseline += " AND ExporterAddress = toIPv6(" + clickhouse.QuoteString(mapped(p.Exporter)) + ")"
	}
	sql := fill(q.SQL, src, placeholders{
		where: where, baseline: baseline,
		bucket:  fmt.Sprintf("toStartOfInterval(TimeReceived, toIntervalSecond(%d))", int64(step/time.Second)),
		step:    strconv.FormatInt(int64(max(step, time.Second)/time.Second), 10),
		seconds: strconv.FormatInt(int64(span/time.Second), 10),
		limit:   p.Limit,
	})
	built := Built{SQL: sql, Table: src.table, From: p.From, To: p.To}
	if q.TimeSeries {
		built.Step = step
	}
	return built, nil
}

// buildDirect writes a query that names its own tables.
func buildDirect(q Query, p Params) (Built, error) {
	for _, need := range q.Needs {
		if need == "address" && !p.Address.IsValid() || need == "alert" && p.Alert == "" {
			return Built{}, fmt.Errorf("query %s needs --param %s", q.Name, need)
		}
	}
	address := "toIPv6('::')"
	if p.Address.IsValid() {
		address = "toIPv6(" + clickhouse.QuoteString(mapped(p.Address)) + ")"
	}
	flowtime := fmt.Sprintf("TimeFlowStart >= fromUnixTimestamp64Milli(%d) AND TimeFlowStart < fromUnixTimestamp64Milli(%d) AND TimeReceived >= toDateTime(%d)",
		p.From.UnixMilli(), p.To.UnixMilli(), p.From.Add(-time.Hour).Unix())
	if p.Exporter.IsValid() {
		flowtime += " AND ExporterAddress = toIPv6(" + clickhouse.QuoteString(mapped(p.Exporter)) + ")"
	}
	sql := strings.NewReplacer(
		"{flowtime}", flowtime,
		"{alerttime}", fmt.Sprintf("LastSeen >= fromUnixTimestamp64Milli(%d) AND FirstSeen < fromUnixTimestamp64Milli(%d)", p.From.UnixMilli(), p.To.UnixMilli()),
		"{address}", address,
		"{alert}", clickhouse.QuoteString(p.Alert),
		"{limit}", strconv.Itoa(p.Limit),
	).Replace(q.SQL)
	table := migrate.FlowsTable
	if strings.HasPrefix(q.Name, "alert-history") {
		table = migrate.AlertsTable
	}
	return Built{SQL: sql, Table: table, From: p.From, To: p.To}, nil
}

// topSeries is the condition that keeps, of the series told apart by keys,
// the limit ones with the most bytes in the range (where), ties broken by
// the keys' order. GLOBAL: on a cluster the subquery runs once, over every
// shard.
func topSeries(keys []string, src source, where string, limit int) string {
	list := strings.Join(keys, ", ")
	return " AND (" + list + ") GLOBAL IN (SELECT " + list + " FROM " + src.table + " WHERE " + where +
		" GROUP BY " + list + " ORDER BY " + src.bytes + " DESC, " + list + " LIMIT " + strconv.Itoa(limit) + ")"
}

// pick chooses the first (coarsest, narrowest) source that has the columns
// (and the exporter, when the query filters on it), keeps the whole
// range, and whose grain divides the range's bounds, so the answer is
// exact (with Align, the range may be widened to whole small buckets); a
// series also needs at least minSeriesPoints steps. It updates p's range
// to the one used.
func pick(q Query, candidates []source, now time.Time, p *Params) (source, error) {
	needed := q.Columns
	if p.Exporter.IsValid() {
		needed = append(slices.Clone(needed), "ExporterAddress")
	}
	for _, s := range candidates {
		from, to := p.From, p.To
		if s.grain > 0 {
			if !containsAll(s.columns, needed) {
				continue
			}
			fine := to.Sub(from)/s.grain >= minSeriesPoints
			if from.Truncate(s.grain) != from || to.Truncate(s.grain) != to {
				// A partial bucket would count flows outside the range:
				// widen the range to whole buckets only if allowed and the
				// buckets are small beside the range.
				if !p.Align || !fine {
					continue
				}
				from = from.Truncate(s.grain)
				if to.Truncate(s.grain) != to {
					to = to.Truncate(s.grain).Add(s.grain)
				}
			}
			if q.TimeSeries && !fine {
				continue
			}
		}
		age := now.Sub(from)
		if q.Name == "new-destinations" {
			age += p.Baseline
		}
		if s.ttl > 0 && age > s.ttl {
			if s.grain == 0 {
				return source{}, fmt.Errorf("query %s: the range starts %s ago, before the raw table's retention (%s), and no rollup holds %s",
					q.Name, age.Round(time.Second), s.ttl, strings.Join(q.Columns, ", "))
			}
			continue
		}
		p.From, p.To = from, to
		return s, nil
	}
	return source{}, errors.New("query " + q.Name + ": no table can answer")
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

func timeRange(column string, from, to time.Time) string {
	return fmt.Sprintf("%s >= toDateTime(%d) AND %s < toDateTime(%d)", column, from.Unix(), column, to.Unix())
}

// mapped writes an address as ClickHouse's IPv6 type shows it.
func mapped(a netip.Addr) string {
	if a.Is4() {
		return "::ffff:" + a.String()
	}
	return a.String()
}
