// Package ocsf formats flows and alerts as Open Cybersecurity Schema
// Framework events (JSON) at the pinned OCSF version Version, for Amazon
// Security Lake and other OCSF consumers.
//
// A flow is a Network Activity event (class_uid 4001, activity Traffic,
// type_uid 400106): src_endpoint and dst_endpoint (address, port, MAC, AS,
// location), connection_info (protocol, IP version, direction, TCP flags),
// traffic (bytes and packets scaled by the sampling rate), device for the
// exporter, start_time/end_time from the flow's own timestamps,
// observables for both addresses, and an enrichment per threat-feed hit.
// Flow fields OCSF has no attribute for go in unmapped.
//
// An alert is a Detection Finding (class_uid 2004): activity Create,
// Update or Close from the alert's state, finding_info (uid: the alert's
// ID, title: the summary, analytic: the detection), severity_id from the
// alert's severity (the numbers match), evidences with the endpoints, and
// the evidence's time span.
package ocsf

import (
	"time"

	"sluice/pipeline/record"
	"sluice/pipeline/siem"
)

// Version is the OCSF schema version of the events (metadata.version);
// the tests check every attribute against the schema at this version.
const Version = "1.2.0"

// Format is the OCSF format. Its methods may be called concurrently.
type Format struct{}

// New returns the OCSF format.
func New() Format { return Format{} }

// Name is "ocsf".
func (Format) Name() string { return "ocsf" }

func metadata(j *siem.JSON, uid string) {
	j.Open("metadata")
	j.String("version", Version)
	j.String("uid", uid)
	j.Open("product")
	j.String("name", "sluice")
	j.String("vendor_name", "sluice")
	j.Close()
	j.Close()
}

// AppendFlow appends f as a Network Activity event.
func (Format) AppendFlow(dst []byte, f *record.Flow, id string) ([]byte, error) {
	var j siem.JSON
	j.Reset(dst)
	j.Open("")
	end := siem.FlowEnd(f)
	start := siem.FlowStart(f)
	j.Uint("class_uid", 4001)
	j.String("class_name", "Network Activity")
	j.Uint("category_uid", 4)
	j.String("category_name", "Network Activity")
	j.Uint("activity_id", 6)
	j.String("activity_name", "Traffic")
	j.Uint("type_uid", 400106)
	j.String("type_name", "Network Activity: Traffic")
	j.Uint("severity_id", 1)
	j.String("severity", "Informational")
	j.Int("time", end.UnixMilli())
	j.Int("start_time", start.UnixMilli())
	j.Int("end_time", end.UnixMilli())
	j.Int("duration", end.Sub(start).Milliseconds())
	j.Int("timezone_offset", 0)
	metadata(&j, id)

	endpoint(&j, "src_endpoint", f.SrcAddr, f.SrcPort, f.SrcMAC, f.SrcAS, f.SrcASName, f.SrcCountry, f.SrcGeoCity,
		f.InIfName, f.InIfIndex, f.SrcVlan)
	endpoint(&j, "dst_endpoint", f.DstAddr, f.DstPort, f.DstMAC, f.DstAS, f.DstASName, f.DstCountry, f.DstGeoCity,
		f.OutIfName, f.OutIfIndex, f.DstVlan)

	j.Open("connection_info")
	j.Uint("protocol_num", uint64(f.Proto))
	if name := siem.ProtoName(f.Proto); name != "" {
		j.String("protocol_name", name)
	}
	if siem.IsV4(f.SrcAddr) {
		j.Uint("protocol_ver_id", 4)
	} else {
		j.Uint("protocol_ver_id", 6)
	}
	id2, name := direction(f.TrafficDirection)
	j.Uint("direction_id", id2)
	j.String("direction", name)
	if f.Proto == 6 {
		j.Uint("tcp_flags", uint64(f.TCPFlags))
	}
	if !f.CommunityID.IsZero() {
		j.CommunityID("uid", f.CommunityID)
	}
	j.Close()

	rate := max(f.SamplingRate, 1)
	j.Open("traffic")
	j.Uint("bytes", f.Bytes*rate)
	j.Uint("packets", f.Packets*rate)
	j.Close()

	device(&j, f.ExporterAddress, f.ExporterName)

	j.OpenArray("observables")
	observable(&j, "src_endpoint.ip", f.SrcAddr)
	observable(&j, "dst_endpoint.ip", f.DstAddr)
	j.CloseArray()

	if f.SrcThreatFeeds != 0 || f.DstThreatFeeds != 0 {
		j.OpenArray("enrichments")
		enrichments(&j, f.SrcThreatFeeds, "src_endpoint.ip", f.SrcAddr)
		enrichments(&j, f.DstThreatFeeds, "dst_endpoint.ip", f.DstAddr)
		j.CloseArray()
	}

	j.Open("unmapped")
	j.String("flow_type", f.FlowType.String())
	j.Uint("sampling_rate", rate)
	j.Uint("bytes_sampled", f.Bytes)
	j.Uint("packets_sampled", f.Packets)
	if f.TimeReceived != 0 {
		j.Int("time_received", time.Unix(0, f.TimeReceived).UnixMilli())
	}
	j.StringNonEmpty("service", f.ServiceName)
	j.StringNonEmpty("exporter_site", f.ExporterSite)
	j.StringNonEmpty("src_net_name", f.SrcNetName)
	j.StringNonEmpty("dst_net_name", f.DstNetName)
	j.Close()
	j.Close()
	return j.B, nil
}

// AppendAlert appends a as a Detection Finding.
func (Format) AppendAlert(dst []byte, a *record.Alert) ([]byte, error) {
	var j siem.JSON
	j.Reset(dst)
	j.Open("")
	activity, activityName, status, statusName := uint64(1), "Create", uint64(1), "New"
	switch a.State {
	case record.AlertUpdated:
		activity, activityName, status, statusName = 2, "Update", 2, "In Progress"
	case record.AlertClosed:
		activity, activityName, status, statusName = 3, "Close", 4, "Resolved"
	}
	j.Uint("class_uid", 2004)
	j.String("class_name", "Detection Finding")
	j.Uint("category_uid", 2)
	j.String("category_name", "Findings")
	j.Uint("activity_id", activity)
	j.String("activity_name", activityName)
	j.Uint("type_uid", 200400+activity)
	j.Uint("status_id", status)
	j.String("status", statusName)
	sev := uint64(a.Severity)
	if sev < 1 || sev > 5 {
		sev = 0
	}
	j.Uint("severity_id", sev)
	j.String("severity", severityName(sev))
	j.Int("time", a.Time.UnixMilli())
	if !a.FirstSeen.IsZero() {
		j.Int("start_time", a.FirstSeen.UnixMilli())
	}
	if !a.LastSeen.IsZero() {
		j.Int("end_time", a.LastSeen.UnixMilli())
	}
	j.Int("timezone_offset", 0)
	j.String("message", a.Summary)
	if a.Flows > 0 {
		j.Uint("count", a.Flows)
	}
	metadata(&j, siem.AlertEventID(a))

	j.Open("finding_info")
	j.String("uid", a.ID)
	j.String("title", a.Summary)
	if !a.FirstSeen.IsZero() {
		j.Int("first_seen_time", a.FirstSeen.UnixMilli())
	}
	if !a.LastSeen.IsZero() {
		j.Int("last_seen_time", a.LastSeen.UnixMilli())
	}
	j.OpenArray("types")
	j.Elem(a.Detection)
	j.CloseArray()
	j.Open("analytic")
	j.Uint("type_id", 1)
	j.String("type", "Rule")
	j.String("name", a.Detection)
	j.String("uid", a.Detection)
	j.Close()
	j.Close()

	j.OpenArray("evidences")
	j.Open("")
	if !a.SrcAddr.IsZero() {
		alertEndpoint(&j, "src_endpoint", a.SrcAddr, a.SrcPort)
	}
	if !a.DstAddr.IsZero() {
		alertEndpoint(&j, "dst_endpoint", a.DstAddr, a.DstPort)
	}
	if a.Proto != 0 {
		j.Open("connection_info")
		j.Uint("protocol_num", uint64(a.Proto))
		if name := siem.ProtoName(a.Proto); name != "" {
			j.String("protocol_name", name)
		}
		j.Uint("direction_id", 0)
		j.Close()
	}
	if a.Details != "" {
		j.Raw("data", []byte(a.Details))
	}
	j.Close()
	j.CloseArray()

	if !a.SrcAddr.IsZero() || !a.DstAddr.IsZero() {
		j.OpenArray("observables")
		if !a.SrcAddr.IsZero() {
			observable(&j, "evidences[0].src_endpoint.ip", a.SrcAddr)
		}
		if !a.DstAddr.IsZero() {
			observable(&j, "evidences[0].dst_endpoint.ip", a.DstAddr)
		}
		j.CloseArray()
	}
	if len(a.ThreatFeeds) > 0 {
		j.OpenArray("enrichments")
		for _, feed := range a.ThreatFeeds {
			j.Open("")
			j.String("name", "threat_feed")
			j.String("value", feed)
			j.String("type", "threat_feed")
			j.String("provider", feed)
			j.Open("data")
			j.String("feed", feed)
			j.Close()
			j.Close()
		}
		j.CloseArray()
	}
	if !a.ExporterAddress.IsZero() {
		device(&j, a.ExporterAddress, "")
	}
	j.Open("unmapped")
	j.String("detection", a.Detection)
	j.String("state", a.State.String())
	j.Uint("bytes", a.Bytes)
	j.Uint("packets", a.Packets)
	j.Uint("flows", a.Flows)
	j.StringNonEmpty("dedup_key", a.DedupKey)
	j.Close()
	j.Close()
	return j.B, nil
}

// device writes the exporter as the device (type Other: OCSF 1.2.0 has
// no router type).
func device(j *siem.JSON, addr record.Addr, name string) {
	j.Open("device")
	j.Uint("type_id", 99)
	j.String("type", "Router")
	j.Addr("ip", addr)
	j.StringNonEmpty("name", name)
	j.Close()
}

func severityName(id uint64) string {
	switch id {
	case 1:
		return "Informational"
	case 2:
		return "Low"
	case 3:
		return "Medium"
	case 4:
		return "High"
	case 5:
		return "Critical"
	}
	return "Unknown"
}

func endpoint(j *siem.JSON, key string, addr record.Addr, port uint16, mac uint64, as uint32, asName, country, city,
	ifName string, ifIndex uint32, vlan uint16) {
	j.Open(key)
	j.Addr("ip", addr)
	j.Uint("port", uint64(port))
	if mac != 0 {
		j.MAC("mac", mac, ':')
	}
	if as != 0 || asName != "" {
		j.Open("autonomous_system")
		j.Uint("number", uint64(as))
		j.StringNonEmpty("name", asName)
		j.Close()
	}
	if country != "" || city != "" {
		j.Open("location")
		j.StringNonEmpty("country", country)
		j.StringNonEmpty("city", city)
		j.Close()
	}
	if ifIndex != 0 {
		j.Quoted("interface_uid", uint64(ifIndex))
	}
	j.StringNonEmpty("interface_name", ifName)
	if vlan != 0 {
		j.Quoted("vlan_uid", uint64(vlan))
	}
	j.Close()
}

func alertEndpoint(j *siem.JSON, key string, addr record.Addr, port uint16) {
	j.Open(key)
	j.Addr("ip", addr)
	if port != 0 {
		j.Uint("port", uint64(port))
	}
	j.Close()
}

// observable writes an IP Address observable (type_id 2).
func observable(j *siem.JSON, name string, addr record.Addr) {
	j.Open("")
	j.String("name", name)
	j.Uint("type_id", 2)
	j.String("type", "IP Address")
	j.Addr("value", addr)
	j.Close()
}

// enrichments writes one enrichment per feed listing addr.
func enrichments(j *siem.JSON, feeds record.FeedSet, name string, addr record.Addr) {
	for feeds != 0 {
		var feed string
		feeds, feed = feeds.Pop()
		if feed == "" {
			continue
		}
		j.Open("")
		j.String("name", name)
		j.Addr("value", addr)
		j.String("type", "threat_feed")
		j.String("provider", feed)
		j.Open("data")
		j.String("feed", feed)
		j.Close()
		j.Close()
	}
}

// direction maps the record's traffic direction to OCSF's direction_id:
// 1 inbound, 2 outbound, 3 lateral (internal), 99 other (transit), 0
// unknown.
func direction(d record.TrafficDirection) (uint64, string) {
	switch d {
	case record.DirectionInbound:
		return 1, "Inbound"
	case record.DirectionOutbound:
		return 2, "Outbound"
	case record.DirectionInternal:
		return 3, "Lateral"
	case record.DirectionTransit:
		return 99, "Transit"
	}
	return 0, "Unknown"
}

var _ siem.Format = Format{}
