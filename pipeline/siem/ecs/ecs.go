// Package ecs formats flows and alerts as Elastic Common Schema documents
// (JSON, one per event) at the pinned ECS version Version, for Elastic
// Security and anything else that reads ECS.
//
// A flow is an event of kind "event", category network, type connection,
// with source.*, destination.*, network.* (transport, IANA number, type,
// direction, community_id, bytes and packets scaled by the sampling rate),
// event.start/end/duration from the flow's own timestamps, observer.* for
// the exporter and its interfaces, related.ip, and threat.enrichments for
// each threat-feed hit. What ECS has no field for (flow type, sampling
// rate, raw counters, TCP flags, exporter site) goes in labels.*, which ECS
// defines as keyword key/value pairs.
//
// An alert is an event of kind "alert", category network and
// intrusion_detection, with rule.* naming the detection, event.severity
// and event.risk_score, message (the summary), event.start/end (the
// evidence's flow times) and the same source/destination/threat fields.
package ecs

import (
	"time"

	"sluice/pipeline/record"
	"sluice/pipeline/siem"
)

// Version is the ECS version the documents conform to, stated in each
// document's ecs.version; the tests check every field against the field
// definitions of @elastic/ecs at this version.
const Version = "9.4.0"

// Format is the ECS format. Its methods may be called concurrently.
type Format struct{}

// New returns the ECS format.
func New() Format { return Format{} }

// Name is "ecs".
func (Format) Name() string { return "ecs" }

// AppendFlow appends f as an ECS document.
func (Format) AppendFlow(dst []byte, f *record.Flow, id string) ([]byte, error) {
	var j siem.JSON
	j.Reset(dst)
	j.Open("")
	end := siem.FlowEnd(f)
	start := siem.FlowStart(f)
	j.Time("@timestamp", end)
	j.Open("ecs")
	j.String("version", Version)
	j.Close()

	j.Open("event")
	j.String("id", id)
	j.String("kind", "event")
	j.OpenArray("category")
	j.Elem("network")
	j.CloseArray()
	j.OpenArray("type")
	j.Elem("connection")
	if f.FirewallEvent == 3 {
		j.Elem("denied")
	}
	j.CloseArray()
	j.String("module", "sluice")
	j.String("dataset", "sluice.flow")
	j.Time("start", start)
	j.Time("end", end)
	j.Int("duration", end.Sub(start).Nanoseconds())
	if f.TimeReceived != 0 {
		j.Time("created", time.Unix(0, f.TimeReceived))
	}
	j.Close()

	rate := max(f.SamplingRate, 1)
	endpoint(&j, "source", f.SrcAddr, f.SrcPort, f.SrcMAC, f.SrcAS, f.SrcASName, f.SrcCountry, f.SrcGeoCity,
		f.SrcAddrNAT, f.SrcPortNAT, f.Bytes*rate, f.Packets*rate, true)
	endpoint(&j, "destination", f.DstAddr, f.DstPort, f.DstMAC, f.DstAS, f.DstASName, f.DstCountry, f.DstGeoCity,
		f.DstAddrNAT, f.DstPortNAT, 0, 0, false)

	j.Open("network")
	if name := siem.ProtoName(f.Proto); name != "" {
		j.String("transport", name)
	}
	j.Quoted("iana_number", uint64(f.Proto))
	if siem.IsV4(f.SrcAddr) {
		j.String("type", "ipv4")
	} else {
		j.String("type", "ipv6")
	}
	j.Uint("bytes", f.Bytes*rate)
	j.Uint("packets", f.Packets*rate)
	if d := direction(f.TrafficDirection); d != "" {
		j.String("direction", d)
	}
	j.CommunityID("community_id", f.CommunityID)
	j.StringNonEmpty("protocol", f.ServiceName)
	if f.SrcVlan != 0 {
		j.Open("vlan")
		j.Quoted("id", uint64(f.SrcVlan))
		j.Close()
	}
	j.Close()

	j.Open("observer")
	j.OpenArray("ip")
	j.ElemAddr(f.ExporterAddress)
	j.CloseArray()
	j.StringNonEmpty("name", f.ExporterName)
	j.String("type", "router")
	iface(&j, "ingress", f.InIfIndex, f.InIfName, f.InIfDescription, f.SrcVlan)
	iface(&j, "egress", f.OutIfIndex, f.OutIfName, f.OutIfDescription, f.DstVlan)
	j.Close()

	related(&j, f.SrcAddr, f.DstAddr)

	if f.SrcThreatFeeds != 0 || f.DstThreatFeeds != 0 {
		j.Open("threat")
		j.OpenArray("enrichments")
		enrichments(&j, f.SrcThreatFeeds, f.SrcAddr, "source.ip")
		enrichments(&j, f.DstThreatFeeds, f.DstAddr, "destination.ip")
		j.CloseArray()
		j.Close()
	}

	j.Open("labels")
	j.String("flow_type", f.FlowType.String())
	j.Quoted("sampling_rate", rate)
	j.Quoted("bytes_sampled", f.Bytes)
	j.Quoted("packets_sampled", f.Packets)
	if f.Proto == 6 {
		j.Quoted("tcp_flags", uint64(f.TCPFlags))
	}
	j.StringNonEmpty("exporter_group", f.ExporterGroup)
	j.StringNonEmpty("exporter_site", f.ExporterSite)
	j.StringNonEmpty("exporter_region", f.ExporterRegion)
	j.StringNonEmpty("exporter_tenant", f.ExporterTenant)
	j.StringNonEmpty("src_net_name", f.SrcNetName)
	j.StringNonEmpty("dst_net_name", f.DstNetName)
	j.Close()

	j.Close()
	return j.B, nil
}

// AppendAlert appends a as an ECS alert.
func (Format) AppendAlert(dst []byte, a *record.Alert) ([]byte, error) {
	var j siem.JSON
	j.Reset(dst)
	j.Open("")
	j.Time("@timestamp", a.Time)
	j.Open("ecs")
	j.String("version", Version)
	j.Close()
	j.String("message", a.Summary)

	j.Open("event")
	j.String("id", siem.AlertEventID(a))
	j.String("kind", "alert")
	j.OpenArray("category")
	j.Elem("network")
	j.Elem("intrusion_detection")
	j.CloseArray()
	j.OpenArray("type")
	j.Elem("info")
	if a.State == record.AlertClosed {
		j.Elem("end")
	} else if a.State == record.AlertOpen {
		j.Elem("start")
	}
	j.CloseArray()
	j.String("module", "sluice")
	j.String("dataset", "sluice.alert")
	j.String("action", a.State.String())
	j.Uint("severity", uint64(a.Severity))
	j.Int("risk_score", riskScore(a.Severity))
	if !a.FirstSeen.IsZero() {
		j.Time("start", a.FirstSeen)
	}
	if !a.LastSeen.IsZero() {
		j.Time("end", a.LastSeen)
	}
	j.Close()

	j.Open("rule")
	j.String("id", a.Detection)
	j.String("name", a.Detection)
	j.String("ruleset", "sluice")
	j.Close()

	alertEndpoint(&j, "source", a.SrcAddr, a.SrcPort)
	alertEndpoint(&j, "destination", a.DstAddr, a.DstPort)
	j.Open("network")
	if a.Proto != 0 {
		if name := siem.ProtoName(a.Proto); name != "" {
			j.String("transport", name)
		}
		j.Quoted("iana_number", uint64(a.Proto))
	}
	j.Uint("bytes", a.Bytes)
	j.Uint("packets", a.Packets)
	j.Close()
	if !a.ExporterAddress.IsZero() {
		j.Open("observer")
		j.OpenArray("ip")
		j.ElemAddr(a.ExporterAddress)
		j.CloseArray()
		j.Close()
	}
	if !a.SrcAddr.IsZero() || !a.DstAddr.IsZero() {
		related(&j, a.SrcAddr, a.DstAddr)
	}
	if len(a.ThreatFeeds) > 0 {
		j.Open("threat")
		j.OpenArray("enrichments")
		for _, feed := range a.ThreatFeeds {
			j.Open("")
			j.Open("indicator")
			j.String("provider", feed)
			j.Close()
			j.Open("matched")
			j.String("type", "indicator_match_rule")
			j.Close()
			j.Close()
		}
		j.CloseArray()
		j.Close()
	}
	j.Open("labels")
	j.String("alert_id", a.ID)
	j.String("alert_state", a.State.String())
	j.Quoted("flows", a.Flows)
	j.StringNonEmpty("dedup_key", a.DedupKey)
	j.StringNonEmpty("details", a.Details)
	j.Close()
	j.Close()
	return j.B, nil
}

// endpoint writes source or destination; bytes and packets only for the
// source (what it sent), when withCounters.
func endpoint(j *siem.JSON, key string, addr record.Addr, port uint16, mac uint64, as uint32, asName, country, city string,
	nat record.Addr, natPort uint16, bytes, packets uint64, withCounters bool) {
	j.Open(key)
	j.Addr("ip", addr)
	j.Uint("port", uint64(port))
	if mac != 0 {
		j.MAC("mac", mac, '-')
	}
	if as != 0 || asName != "" {
		j.Open("as")
		j.Uint("number", uint64(as))
		if asName != "" {
			j.Open("organization")
			j.String("name", asName)
			j.Close()
		}
		j.Close()
	}
	if country != "" || city != "" {
		j.Open("geo")
		j.StringNonEmpty("country_iso_code", country)
		j.StringNonEmpty("city_name", city)
		j.Close()
	}
	if !nat.IsZero() {
		j.Open("nat")
		j.Addr("ip", nat)
		if natPort != 0 {
			j.Uint("port", uint64(natPort))
		}
		j.Close()
	}
	if withCounters {
		j.Uint("bytes", bytes)
		j.Uint("packets", packets)
	}
	j.Close()
}

// alertEndpoint writes an alert's source or destination, if it has one.
func alertEndpoint(j *siem.JSON, key string, addr record.Addr, port uint16) {
	if addr.IsZero() {
		return
	}
	j.Open(key)
	j.Addr("ip", addr)
	if port != 0 {
		j.Uint("port", uint64(port))
	}
	j.Close()
}

// iface writes observer.ingress or observer.egress.
func iface(j *siem.JSON, key string, index uint32, name, description string, vlan uint16) {
	if index == 0 && name == "" && vlan == 0 {
		return
	}
	j.Open(key)
	j.Open("interface")
	j.Quoted("id", uint64(index))
	j.StringNonEmpty("name", name)
	j.StringNonEmpty("alias", description)
	j.Close()
	if vlan != 0 {
		j.Open("vlan")
		j.Quoted("id", uint64(vlan))
		j.Close()
	}
	j.Close()
}

func related(j *siem.JSON, src, dst record.Addr) {
	j.Open("related")
	j.OpenArray("ip")
	if !src.IsZero() {
		j.ElemAddr(src)
	}
	if !dst.IsZero() && dst != src {
		j.ElemAddr(dst)
	}
	j.CloseArray()
	j.Close()
}

// enrichments writes one threat.enrichments entry per feed listing addr.
func enrichments(j *siem.JSON, feeds record.FeedSet, addr record.Addr, field string) {
	for feeds != 0 {
		var name string
		feeds, name = feeds.Pop()
		if name == "" {
			continue
		}
		j.Open("")
		j.Open("indicator")
		j.Addr("ip", addr)
		if siem.IsV4(addr) {
			j.String("type", "ipv4-addr")
		} else {
			j.String("type", "ipv6-addr")
		}
		j.String("provider", name)
		j.Close()
		j.Open("matched")
		j.Addr("atomic", addr)
		j.String("field", field)
		j.String("type", "indicator_match_rule")
		j.Close()
		j.Close()
	}
}

// direction maps the record's traffic direction to ECS's
// network.direction values.
func direction(d record.TrafficDirection) string {
	switch d {
	case record.DirectionInbound:
		return "inbound"
	case record.DirectionOutbound:
		return "outbound"
	case record.DirectionInternal:
		return "internal"
	case record.DirectionTransit:
		return "external"
	}
	return ""
}

// riskScore maps a severity to Elastic's 0-100 risk score bands (low 21,
// medium 47, high 73, critical 99, as Elastic's detection rules use).
func riskScore(s record.Severity) int64 {
	switch s {
	case record.SeverityLow:
		return 21
	case record.SeverityMedium:
		return 47
	case record.SeverityHigh:
		return 73
	case record.SeverityCritical:
		return 99
	}
	return 1
}

var _ siem.Format = Format{}
