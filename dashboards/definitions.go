package dashboards

import (
	"fmt"
	"strings"

	"sluice/storage/migrate"
	"sluice/storage/queries"
)

var (
	clickhouse = &DataSourceRef{Type: ClickHouseType, UID: ClickHouseUID}
	prometheus = &DataSourceRef{Type: PrometheusType, UID: PrometheusUID}
)

// The dashboards' variables, and the filters of the panels that honour
// them: a panel honours a variable only where the tables that answer it
// hold the variable's columns (an AS panel reads the AS rollups, which
// keep no exporter, so the AS dashboard has no exporter variable).
var (
	exporterFilter  = queries.Filter{Variable: "exporter", Columns: []string{"ExporterAddress"}}
	directionFilter = queries.Filter{Variable: "direction", Columns: []string{"TrafficDirection"}}
	siteFilter      = queries.Filter{Variable: "site", Columns: []string{"SrcNetSite", "DstNetSite"}}
	tenantFilter    = queries.Filter{Variable: "tenant", Columns: []string{"SrcNetTenant", "DstNetTenant"}}
	interfaceFilter = queries.Filter{Variable: "interface", Columns: []string{"InIfName", "OutIfName"}}
)

// queryVariable is a multi-value variable with "All", whose values a
// ClickHouse query lists (first column the value, second the text shown),
// refreshed when the range changes.
func queryVariable(name, label, description, sql string) Variable {
	return Variable{
		Name: name, Label: label, Type: "query", Description: description, Datasource: clickhouse,
		Query: map[string]any{"rawSql": sql, "editorType": "sql", "format": 1, "queryType": "table"}, Definition: sql,
		Refresh: 2, Multi: true, IncludeAll: true, Sort: 1,
		Current: map[string]any{"selected": true, "text": []string{"All"}, "value": []string{"$__all"}},
		Options: []VariableOpt{},
	}
}

// hourRange is the time filter of the variables' queries over an hourly
// rollup: the buckets the range touches.
const hourRange = "TimeReceived >= toStartOfHour($__fromTime()) AND TimeReceived <= $__toTime()"

var (
	exporterVar = queryVariable("exporter", "Exporter", "Exporters that sent flows in the range (by name when known).",
		"SELECT DISTINCT toString(ExporterAddress) AS value, if(ExporterName = '', toString(ExporterAddress), ExporterName) AS text "+
			"FROM sluice.flows_if_1h WHERE "+hourRange+" ORDER BY text")
	interfaceVar = queryVariable("interface", "Interface", "Interface names (input or output) of the selected exporters.",
		"SELECT DISTINCT arrayJoin([InIfName, OutIfName]) AS name FROM sluice.flows_if_1h WHERE "+hourRange+
			" AND $__conditionalAll(toString(ExporterAddress) IN (${exporter:singlequote}), $exporter) AND name != '' ORDER BY name")
	siteVar = queryVariable("site", "Site", "Network sites (source or destination), from the networks configuration.",
		"SELECT DISTINCT arrayJoin([SrcNetSite, DstNetSite]) AS site FROM sluice.flows_net_1h WHERE "+hourRange+" AND site != '' ORDER BY site")
	tenantVar = queryVariable("tenant", "Tenant", "Network tenants (source or destination), from the networks configuration.",
		"SELECT DISTINCT arrayJoin([SrcNetTenant, DstNetTenant]) AS tenant FROM sluice.flows_net_1h WHERE "+hourRange+" AND tenant != '' ORDER BY tenant")
	directionVar = customVariable("direction", "Direction", "Traffic direction relative to the own networks.",
		[]string{"inbound", "outbound", "internal", "transit", "unknown"})
	srcVar = textVariable("src", "Source", "Source address of the evidence flows (empty: any); an alert's link fills it.")
	dstVar = textVariable("dst", "Destination", "Destination address of the evidence flows (empty: any); an alert's link fills it.")
)

func customVariable(name, label, description string, values []string) Variable {
	v := Variable{
		Name: name, Label: label, Type: "custom", Description: description,
		Query: strings.Join(values, ","), Multi: true, IncludeAll: true,
		Current: map[string]any{"selected": true, "text": []string{"All"}, "value": []string{"$__all"}},
		Options: []VariableOpt{{Selected: true, Text: "All", Value: "$__all"}},
	}
	for _, s := range values {
		v.Options = append(v.Options, VariableOpt{Text: s, Value: s})
	}
	return v
}

func textVariable(name, label, description string) Variable {
	return Variable{
		Name: name, Label: label, Type: "textbox", Description: description, Query: "",
		Current: map[string]any{"text": "", "value": ""}, Options: []VariableOpt{},
	}
}

// layout places panels left to right, rows of 24 columns.
type layout struct {
	d    *Dashboard
	x, y int
	rowH int
	err  error
}

func newDashboard(uid, title, description string, vars ...Variable) *layout {
	return &layout{d: &Dashboard{
		UID: uid, Title: title, Description: description, Tags: []string{"sluice"}, Timezone: "utc",
		Editable: true, GraphTooltip: 1, SchemaVersion: SchemaVersion, Version: 1, Refresh: "1m",
		Time: TimeRange{From: "now-6h", To: "now"}, Templating: Templating{List: append([]Variable{}, vars...)},
		Annotations: Annotations{List: []any{}},
		Links: []Link{{Title: "sluice", Type: "dashboards", Tags: []string{"sluice"}, AsDropdown: true,
			IncludeVars: false, KeepTime: true, Icon: "external link", Tooltip: "", URL: ""}},
		Panels: []*Panel{},
	}}
}

func (l *layout) add(w, h int, p *Panel) {
	if l.x+w > 24 {
		l.x, l.y, l.rowH = 0, l.y+l.rowH, 0
	}
	p.ID = len(l.d.Panels) + 1
	p.GridPos = GridPos{H: h, W: w, X: l.x, Y: l.y}
	l.x += w
	l.rowH = max(l.rowH, h)
	l.d.Panels = append(l.d.Panels, p)
}

// library adds a panel of a library query.
func (l *layout) library(w, h int, kind, title, name string, p queries.Panel, unit string) *Panel {
	q, ok := queries.Lookup(name)
	if !ok {
		l.err = fmt.Errorf("panel %q: no query %s in the library", title, name)
		return &Panel{}
	}
	sql, err := queries.Grafana(q, p, migrate.DefaultConfig())
	if err != nil && l.err == nil {
		l.err = fmt.Errorf("panel %q: %w", title, err)
	}
	desc := q.Description + ". `sluice query " + name + "` answers the same."
	var honoured []string
	for _, f := range p.Filters {
		honoured = append(honoured, "$"+f.Variable)
	}
	if len(honoured) > 0 {
		desc += " Honours " + strings.Join(honoured, ", ") + "."
	}
	panel := sqlPanel(kind, title, desc, sql, unit)
	l.add(w, h, panel)
	return panel
}

// custom adds a panel with its own SQL (no library query answers it).
func (l *layout) custom(w, h int, kind, title, description, sql, unit string) *Panel {
	p := sqlPanel(kind, title, description, sql, unit)
	l.add(w, h, p)
	return p
}

func intp(i int) *int { return &i }

func sqlPanel(kind, title, description, sql, unit string) *Panel {
	format, queryType := 1, "table"
	if kind == "timeseries" {
		format, queryType = 0, "timeseries"
	}
	p := &Panel{
		Type: kind, Title: title, Description: description, Datasource: clickhouse,
		Targets:     []Target{{RefID: "A", Datasource: clickhouse, EditorType: "sql", QueryType: queryType, Format: intp(format), RawSQL: sql}},
		FieldConfig: FieldConfig{Defaults: FieldDefaults{Unit: unit}, Overrides: []Override{}},
		Options:     map[string]any{},
	}
	switch kind {
	case "timeseries":
		p.FieldConfig.Defaults.Custom = map[string]any{"drawStyle": "line", "fillOpacity": 10, "lineWidth": 1, "showPoints": "never"}
		p.Options = map[string]any{"legend": map[string]any{"displayMode": "table", "placement": "bottom", "showLegend": true, "calcs": []string{"mean", "max"}},
			"tooltip": map[string]any{"mode": "multi", "sort": "desc"}}
	case "table":
		p.Options = map[string]any{"showHeader": true, "cellHeight": "sm"}
	}
	return p
}

// unitOverride sets the unit of the fields whose name matches a regexp.
func (p *Panel) unitOverride(fields, unit string) *Panel {
	p.FieldConfig.Overrides = append(p.FieldConfig.Overrides, Override{
		Matcher: Matcher{ID: "byRegexp", Options: fields}, Properties: []OverrideValue{{ID: "unit", Value: unit}}})
	return p
}

// hide keeps only some fields of a panel's result.
func (p *Panel) hide(fields ...string) *Panel {
	exclude := map[string]bool{}
	for _, f := range fields {
		exclude[f] = true
	}
	p.Transformations = append(p.Transformations, Transformation{ID: "organize", Options: map[string]any{"excludeByName": exclude}})
	return p
}

// bytesTable sets the usual units of a top-N table.
func bytesTable(p *Panel) *Panel {
	return p.unitOverride("^Bytes$", "decbytes").unitOverride("^(Packets|Flows)$", "short")
}

// All returns every dashboard.
func All() ([]*Dashboard, error) {
	var out []*Dashboard
	for _, build := range []func() *layout{overview, talkers, asCountries, services, interfaces, security, health} {
		l := build()
		if l.err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", l.d.UID, l.err)
		}
		out = append(out, l.d)
	}
	return out, nil
}

func overview() *layout {
	l := newDashboard("sluice-overview", "sluice / Traffic overview",
		"How much traffic, where from and which way: bits and packets per second over time by exporter, direction and site, scaled by the sampling rate.",
		exporterVar, directionVar, siteVar)
	f := queries.Panel{Filters: []queries.Filter{exporterFilter, directionFilter}}
	l.library(24, 9, "timeseries", "Bits per second by exporter", "traffic-by-exporter", queries.Panel{Limit: 10, Filters: f.Filters}, "bps").hide("Pps")
	l.library(12, 8, "timeseries", "Packets per second by exporter", "traffic-by-exporter", queries.Panel{Limit: 10, Filters: f.Filters}, "pps").hide("Bps")
	l.library(12, 8, "timeseries", "Bits per second by direction (own networks)", "traffic-by-traffic-direction", f, "bps")
	l.library(12, 8, "timeseries", "Bits per second by flow direction (ingress, egress)", "traffic-by-direction", f, "bps")
	l.library(12, 8, "timeseries", "Bits per second by forwarding status", "traffic-by-forwarding-status",
		queries.Panel{Filters: []queries.Filter{exporterFilter}}, "bps")
	// The network rollups keep sites and directions, not exporters.
	sites := queries.Panel{Limit: 10, Filters: []queries.Filter{directionFilter, siteFilter}}
	l.library(12, 8, "timeseries", "Bits per second by source site", "traffic-by-src-site", sites, "bps")
	l.library(12, 8, "timeseries", "Bits per second by destination site", "traffic-by-dst-site", sites, "bps")
	return l
}

func talkers() *layout {
	l := newDashboard("sluice-talkers", "sluice / Top talkers and conversations",
		"Who talks to whom: top sources, destinations, pairs and conversations, and the traffic matrix between sites and tenants.",
		exporterVar, siteVar, tenantVar)
	all := []queries.Filter{exporterFilter, siteFilter, tenantFilter}
	p := queries.Panel{Limit: 20, Filters: all}
	bytesTable(l.library(12, 10, "table", "Top sources", "top-sources", p, ""))
	bytesTable(l.library(12, 10, "table", "Top destinations", "top-destinations", p, ""))
	bytesTable(l.library(12, 10, "table", "Top address pairs", "top-pairs", p, ""))
	bytesTable(l.library(12, 10, "table", "Top conversations", "top-conversations", p, ""))
	net := queries.Panel{Limit: 50, Filters: []queries.Filter{siteFilter, tenantFilter}}
	bytesTable(l.library(12, 10, "table", "Traffic matrix between sites", "site-matrix", net, ""))
	bytesTable(l.library(12, 10, "table", "Traffic matrix between tenants", "tenant-matrix", net, ""))
	return l
}

// geomap is a world map of a country query's bytes, placed by ISO 3166-1
// alpha-2 code with Grafana's countries gazetteer.
func geomap(p *Panel, field string) *Panel {
	p.Options = map[string]any{
		"view":     map[string]any{"id": "zero", "lat": 20, "lon": 0, "zoom": 1},
		"controls": map[string]any{"showZoom": true, "mouseWheelZoom": false},
		"basemap":  map[string]any{"type": "default", "name": "Basemap"},
		"layers": []any{map[string]any{
			"type": "markers", "name": "Bytes",
			"location": map[string]any{"mode": "lookup", "lookup": field, "gazetteer": "public/gazetteer/countries.json"},
			"config": map[string]any{"style": map[string]any{
				"size":  map[string]any{"field": "Bytes", "min": 4, "max": 30, "fixed": 5},
				"color": map[string]any{"field": "Bytes", "fixed": "dark-green"},
			}},
		}},
	}
	p.FieldConfig.Defaults.Unit = "decbytes"
	p.FieldConfig.Defaults.Custom = nil
	return p
}

func asCountries() *layout {
	l := newDashboard("sluice-as", "sluice / AS and countries",
		"Which networks and countries the traffic comes from and goes to. These panels read the AS rollups, which keep no exporter: the dashboard has no exporter variable.")
	p := queries.Panel{Limit: 200}
	geomap(l.library(12, 11, "geomap", "Traffic by source country", "top-src-countries", p, "decbytes"), "SrcCountry")
	geomap(l.library(12, 11, "geomap", "Traffic by destination country", "top-dst-countries", p, "decbytes"), "DstCountry")
	t := queries.Panel{Limit: 20}
	bytesTable(l.library(12, 10, "table", "Top source AS", "top-src-as", t, ""))
	bytesTable(l.library(12, 10, "table", "Top destination AS", "top-dst-as", t, ""))
	bytesTable(l.library(12, 10, "table", "Top source countries", "top-src-countries", t, ""))
	bytesTable(l.library(12, 10, "table", "Top destination countries", "top-dst-countries", t, ""))
	return l
}

func services() *layout {
	l := newDashboard("sluice-services", "sluice / Ports, protocols and services",
		"What the traffic is: destination ports with their well-known service names, and IP protocols.", exporterVar)
	f := queries.Panel{Limit: 20, Filters: []queries.Filter{exporterFilter}}
	bytesTable(l.library(12, 12, "table", "Top services (protocol, destination port)", "top-services", f, ""))
	bytesTable(l.library(12, 12, "table", "Top protocols", "top-protocols", f, ""))
	// A donut of each row's bytes.
	for _, pie := range [][2]string{{"Protocols by bytes", "top-protocols"}, {"Services by bytes", "top-services"}} {
		p := l.library(12, 10, "piechart", pie[0], pie[1], f, "decbytes")
		p.Options = map[string]any{"reduceOptions": map[string]any{"values": true, "calcs": []string{"lastNotNull"}, "fields": "/^Bytes$/"},
			"pieType": "donut", "legend": map[string]any{"displayMode": "table", "placement": "right", "showLegend": true, "values": []string{"value", "percent"}}}
	}
	return l
}

func interfaces() *layout {
	l := newDashboard("sluice-interfaces", "sluice / Exporters and interfaces",
		"How full the links are: per exporter and interface, traffic over time, average and 95th-percentile bits per second against the interface speed, and the sFlow interface counters (errors, discards).",
		exporterVar, interfaceVar)
	l.library(24, 9, "timeseries", "Bits per second by input interface", "traffic-by-interface",
		queries.Panel{Limit: 20, Filters: []queries.Filter{exporterFilter}}, "bps")
	util := queries.Panel{Limit: 50, Filters: []queries.Filter{exporterFilter, interfaceFilter}}
	for _, name := range []string{"interface-utilisation", "interface-utilisation-in"} {
		title := "Output interfaces: average, 95th percentile, % of speed"
		if strings.HasSuffix(name, "-in") {
			title = "Input interfaces: average, 95th percentile, % of speed"
		}
		l.library(12, 10, "table", title, name, util, "").
			unitOverride("Bps$", "bps").unitOverride("Speed$", "bps").unitOverride("^P95Percent$", "percent")
	}
	// sFlow counter samples: cumulative counters per interface; each
	// sample's increase over the one before (0 for the first, and across a
	// counter reset), summed per step, per second.
	counter := func(title, in, out string) {
		l.custom(12, 9, "timeseries", title,
			"sFlow interface counters ("+in+", "+out+"), per second, from the counter samples the agents send (interface_counters). No library query reads them yet.",
			"SELECT $__timeInterval(TimeReceived) AS Time, Interface, sum(Delta) / $__interval_s() AS PerSecond FROM ("+
				"SELECT TimeReceived, concat(toString(ExporterAddress), ' if', toString(IfIndex)) AS Interface, "+
				"toInt64("+in+" + "+out+") AS Total, greatest(0, Total - lagInFrame(Total, 1, Total) OVER "+
				"(PARTITION BY ExporterAddress, IfIndex ORDER BY TimeReceived ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)) AS Delta "+
				"FROM sluice.interface_counters WHERE $__timeFilter(TimeReceived) AND HasGeneric "+
				"AND $__conditionalAll(toString(ExporterAddress) IN (${exporter:singlequote}), $exporter)"+
				") GROUP BY Time, Interface ORDER BY Time, Interface", "short")
	}
	counter("sFlow interface errors per second", "IfInErrors", "IfOutErrors")
	counter("sFlow interface discards per second", "IfInDiscards", "IfOutDiscards")
	return l
}

// threatFeeds is the condition of a flow one of whose addresses a threat
// feed lists.
const threatFeeds = "(notEmpty(SrcThreatFeeds) OR notEmpty(DstThreatFeeds))"

func security() *layout {
	l := newDashboard("sluice-security", "sluice / Security",
		"What needs a look: the detections' alerts over time and in a table (each links to its evidence flows below), threat-intel hits, scanners, DDoS targets and new destinations.",
		exporterVar, srcVar, dstVar)
	l.custom(24, 8, "timeseries", "Alerts by severity",
		"Alerts raised by the detections (table alerts), per severity and step.",
		"SELECT $__timeInterval(Time) AS Time, toString(Severity) AS Severity, count() AS Alerts FROM sluice.alerts FINAL "+
			"WHERE $__timeFilter(Time) GROUP BY Time, Severity ORDER BY Time, Severity", "short")
	alerts := l.custom(24, 10, "table", "Alerts",
		"The latest alerts; a row's link shows the flows it is about (the Evidence flows panel, filtered by its addresses, over the hour around it).",
		"SELECT Time, Detection AS Detection, toString(Severity) AS Severity, toString(SrcAddr) AS Source, toString(DstAddr) AS Destination, "+
			"Proto, DstPort, Bytes, Packets, Flows, Details FROM sluice.alerts FINAL "+
			"WHERE $__timeFilter(Time) AND $__conditionalAll(toString(ExporterAddress) IN (${exporter:singlequote}), $exporter) "+
			"ORDER BY Time DESC, Severity DESC LIMIT 500", "")
	bytesTable(alerts)
	alerts.FieldConfig.Defaults.Links = []DataLink{{Title: "Evidence flows",
		URL: "/d/sluice-security?var-src=${__data.fields.Source}&var-dst=${__data.fields.Destination}&${exporter:queryparam}" +
			"&time=${__data.fields.Time:date:x}&time.window=3600000"}}
	bytesTable(l.custom(12, 10, "table", "Threat-intel hits by feed",
		"Flows an address of which a threat feed lists (SrcThreatFeeds, DstThreatFeeds), per feed and side.",
		"SELECT Feed, Side, count() AS Flows, uniqExact(Address) AS Addresses, sum(Bytes * SamplingRate) AS Bytes FROM ("+
			"SELECT arrayJoin(arrayConcat(arrayMap(f -> (f, 'source', SrcAddr), SrcThreatFeeds), arrayMap(f -> (f, 'destination', DstAddr), DstThreatFeeds))) AS hit, "+
			"hit.1 AS Feed, hit.2 AS Side, hit.3 AS Address, Bytes, SamplingRate FROM sluice.flows "+
			"WHERE $__timeFilter(TimeReceived) AND "+threatFeeds+" AND $__conditionalAll(toString(ExporterAddress) IN (${exporter:singlequote}), $exporter)"+
			") GROUP BY Feed, Side ORDER BY Flows DESC, Feed, Side LIMIT 100", ""))
	bytesTable(l.custom(12, 10, "table", "Threat-intel hits: addresses",
		"The listed addresses seen, with their feeds, peers and traffic.",
		"SELECT if(notEmpty(SrcThreatFeeds), SrcAddr, DstAddr) AS Address, arrayStringConcat(arrayDistinct(groupArrayArray(arrayConcat(SrcThreatFeeds, DstThreatFeeds))), ', ') AS Feeds, "+
			"uniqExact(if(notEmpty(SrcThreatFeeds), DstAddr, SrcAddr)) AS Peers, count() AS Flows, sum(Bytes * SamplingRate) AS Bytes FROM sluice.flows "+
			"WHERE $__timeFilter(TimeReceived) AND "+threatFeeds+" AND $__conditionalAll(toString(ExporterAddress) IN (${exporter:singlequote}), $exporter) "+
			"GROUP BY Address ORDER BY Flows DESC, Address LIMIT 50", ""))
	bytesTable(l.custom(12, 10, "table", "Scanners: sources reaching the most ports and hosts",
		"Sources by the distinct destination ports and hosts they reached: a scan shows as many of either with few bytes each.",
		"SELECT SrcAddr, uniqExact(DstPort) AS Ports, uniqExact(DstAddr) AS Hosts, count() AS Flows, sum(Bytes * SamplingRate) AS Bytes FROM sluice.flows "+
			"WHERE $__timeFilter(TimeReceived) AND $__conditionalAll(toString(ExporterAddress) IN (${exporter:singlequote}), $exporter) "+
			"GROUP BY SrcAddr ORDER BY Ports + Hosts DESC, SrcAddr LIMIT 20", ""))
	bytesTable(l.custom(12, 10, "table", "DDoS targets: destinations by packet rate and sources",
		"Destinations by average packets per second over the range, with how many sources sent to them.",
		"SELECT DstAddr, intDiv(sum(Packets * SamplingRate), greatest(1, toUInt32($__toTime()) - toUInt32($__fromTime()))) AS Pps, "+
			"uniqExact(SrcAddr) AS Sources, count() AS Flows, sum(Bytes * SamplingRate) AS Bytes FROM sluice.flows "+
			"WHERE $__timeFilter(TimeReceived) AND $__conditionalAll(toString(ExporterAddress) IN (${exporter:singlequote}), $exporter) "+
			"GROUP BY DstAddr ORDER BY Pps DESC, DstAddr LIMIT 20", "").unitOverride("^Pps$", "pps"))
	bytesTable(l.library(12, 10, "table", "New destinations (not seen in the 7 days before)", "new-destinations",
		queries.Panel{Limit: 50, Filters: []queries.Filter{exporterFilter}}, ""))
	bytesTable(l.custom(12, 10, "table", "Evidence flows",
		"Raw flows, newest first, of the source and destination set in $src and $dst (an alert's link sets them).",
		"SELECT TimeReceived, toString(ExporterAddress) AS Exporter, toString(SrcAddr) AS Source, toString(DstAddr) AS Destination, Proto, SrcPort, DstPort, "+
			"Bytes * SamplingRate AS Bytes, Packets * SamplingRate AS Packets, arrayStringConcat(arrayConcat(SrcThreatFeeds, DstThreatFeeds), ', ') AS Feeds FROM sluice.flows "+
			"WHERE $__timeFilter(TimeReceived) AND $__conditionalAll(SrcAddr = toIPv6('${src}'), $src) AND $__conditionalAll(DstAddr = toIPv6('${dst}'), $dst) "+
			"AND $__conditionalAll(toString(ExporterAddress) IN (${exporter:singlequote}), $exporter) "+
			"ORDER BY TimeReceived DESC LIMIT 500", ""))
	return l
}

// promPanel is a time series of PromQL expressions.
func (l *layout) prom(w, h int, title, description, unit string, exprs ...[2]string) {
	p := sqlPanel("timeseries", title, description, "", unit)
	p.Datasource = prometheus
	p.Targets = nil
	for i, e := range exprs {
		p.Targets = append(p.Targets, Target{RefID: string(rune('A' + i)), Datasource: prometheus, Expr: e[0], LegendFormat: e[1], Range: true})
	}
	l.add(w, h, p)
}

func health() *layout {
	l := newDashboard("sluice-health", "sluice / Collector health",
		"Is sluice keeping up: datagrams and flows received and decoded, drops by reason, decode errors, Kafka throughput and backlog, and the storage writer's insert rate and latency, from sluice's Prometheus metrics.")
	l.prom(12, 8, "Datagrams received per second", "By protocol (netflow covers v5, v9 and IPFIX).", "pps",
		[2]string{"sum by (protocol) (rate(sluice_collector_datagrams_total[$__rate_interval]))", "{{protocol}}"})
	l.prom(12, 8, "Flow records decoded per second", "By protocol.", "short",
		[2]string{"sum by (protocol) (rate(sluice_collector_flows_total[$__rate_interval]))", "{{protocol}}"})
	l.prom(12, 8, "Dropped per second, by reason", "Collector drops (queue_full, not_allowed, shutdown), kernel socket drops, records the pipeline failed to write.", "short",
		[2]string{"sum by (reason) (rate(sluice_collector_dropped_total[$__rate_interval]))", "collector {{reason}}"},
		[2]string{"sum(rate(sluice_collector_socket_drops_total[$__rate_interval]))", "socket (kernel)"},
		[2]string{"sum(rate(sluice_pipeline_records_failed_total[$__rate_interval]))", "pipeline failed"})
	l.prom(12, 8, "Decode errors per second", "Datagrams not decoded, in full or in part, by protocol and reason; Kafka messages the pipeline could not decode.", "short",
		[2]string{"sum by (protocol, reason) (rate(sluice_collector_decode_errors_total[$__rate_interval]))", "{{protocol}} {{reason}}"},
		[2]string{"sum(rate(sluice_pipeline_kafka_consumer_decode_errors_total[$__rate_interval]))", "kafka consumer"})
	l.prom(12, 8, "Kafka records per second, produced and consumed", "Distributed mode: records the collectors produce and the pipeline workers consume.", "short",
		[2]string{"sum(rate(sluice_pipeline_kafka_producer_records_total[$__rate_interval]))", "produced"},
		[2]string{"sum(rate(sluice_pipeline_kafka_consumer_records_total[$__rate_interval]))", "consumed"})
	l.prom(12, 8, "Kafka backlog (records produced, not yet consumed)", "Produced minus consumed records since the processes started: a growing line is lag. Records pending in the pipeline's batches beside it.", "short",
		[2]string{"sum(sluice_pipeline_kafka_producer_records_total) - sum(sluice_pipeline_kafka_consumer_records_total)", "backlog"},
		[2]string{"sum(sluice_pipeline_records_pending)", "pending in batches"})
	l.prom(12, 8, "Rows inserted per second", "Rows and batches the storage writer inserted into ClickHouse; insert errors.", "short",
		[2]string{"sum(rate(sluice_storage_writer_rows_inserted_total[$__rate_interval]))", "rows"},
		[2]string{"sum(rate(sluice_storage_writer_batches_inserted_total[$__rate_interval]))", "batches"},
		[2]string{"sum(rate(sluice_storage_writer_insert_errors_total[$__rate_interval]))", "errors"})
	l.prom(12, 8, "Insert latency", "Duration of the storage writer's inserts: median and 99th percentile.", "s",
		[2]string{"histogram_quantile(0.5, sum by (le) (rate(sluice_storage_writer_insert_duration_seconds_bucket[$__rate_interval])))", "p50"},
		[2]string{"histogram_quantile(0.99, sum by (le) (rate(sluice_storage_writer_insert_duration_seconds_bucket[$__rate_interval])))", "p99"})
	return l
}
