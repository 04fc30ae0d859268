// Package cef encodes alerts and flows as ArcSight Common Event Format
// (CEF) version 0 lines, what QRadar, ArcSight and most syslog-fed SIEMs
// parse:
//
//	CEF:0|sluice|sluice|<version>|<signature id>|<name>|<severity>|<extension>
//
// The signature ID is the detection's name (flow for a flow), the name is
// the same in words, and the severity maps sluice's five to CEF's 0-10
// (info 1, low 3, medium 5, high 8, critical 10). The extension uses the
// standard keys of the CEF dictionary: externalId (the alert ID, stable
// across updates and redeliveries), rt, start and end (milliseconds since
// the epoch), src/dst (IPv4) or c6a2/c6a3 (IPv6, labelled Source and
// Destination IPv6 Address), spt, dpt, proto, in (bytes), cnt (flows), dvc
// (the exporter; IPv6: c6a1, labelled Device IPv6 Address), act (open,
// updated, closed),
// cat (alert or flow), msg (the summary), deviceExternalId, and labelled
// custom fields: cn1 packets, cn2 sampling rate, cs1 threat feeds, cs2
// dedup key, cs3 details (JSON), cs4 severity name, cs6 Community ID.
//
// Escaping follows the standard: in the header `\` and `|` are
// backslash-escaped (a line break, not allowed there, becomes a space); in
// extension values `\` and `=` are backslash-escaped and line breaks are
// written \n and \r; other control characters become spaces. A line is
// encoded without allocating.
package cef

import (
	"net/netip"
	"strconv"

	"sluice/pipeline/record"
	"sluice/pipeline/siem"
)

// Format is the CEF format. It holds no state but its configuration, so
// one Format serves any number of goroutines.
type Format struct {
	version  string
	deviceID string
}

var _ siem.Format = (*Format)(nil)

// New returns the format. The configuration was validated; empty fields
// take the build's version and the host name.
func New(cfg Config) *Format {
	f := &Format{version: cfg.DeviceVersion, deviceID: cfg.DeviceExternalID}
	if f.version == "" {
		f.version = buildVersion()
	}
	if f.deviceID == "" {
		f.deviceID = hostname()
	}
	return f
}

// Name is the format's config name.
func (*Format) Name() string { return "cef" }

// Severity maps an alert's severity to CEF's 0-10 scale, on the bands
// ArcSight and QRadar read (0-3 low, 4-6 medium, 7-8 high, 9-10 very high).
func Severity(s record.Severity) int {
	switch s {
	case record.SeverityInfo:
		return 1
	case record.SeverityLow:
		return 3
	case record.SeverityMedium:
		return 5
	case record.SeverityHigh:
		return 8
	case record.SeverityCritical:
		return 10
	}
	return 0
}

// AppendAlert appends the alert's CEF line (no framing, no line end).
func (f *Format) AppendAlert(dst []byte, a *record.Alert) ([]byte, error) {
	dst = f.appendHeader(dst, a.Detection, a.Detection, Severity(a.Severity))
	dst = appendString(dst, "externalId", a.ID)
	dst = appendMillis(dst, " rt", a.Time.UnixMilli())
	if !a.FirstSeen.IsZero() {
		dst = appendMillis(dst, " start", a.FirstSeen.UnixMilli())
	}
	if !a.LastSeen.IsZero() {
		dst = appendMillis(dst, " end", a.LastSeen.UnixMilli())
	}
	dst = appendString(dst, " cat", "alert")
	dst = appendString(dst, " act", a.State.String())
	dst = appendEndpoints(dst, a.SrcAddr, a.DstAddr, a.SrcPort, a.DstPort, a.Proto)
	dst = appendAddr(dst, " dvc", deviceIPv6, a.ExporterAddress)
	if a.Flows > 0 {
		dst = appendUint(dst, " cnt", a.Flows)
	}
	if a.Bytes > 0 {
		dst = appendUint(dst, " in", a.Bytes)
	}
	if a.Packets > 0 {
		dst = appendUint(dst, " cn1", a.Packets)
		dst = append(dst, " cn1Label=packets"...)
	}
	if len(a.ThreatFeeds) > 0 {
		dst = append(dst, " cs1="...)
		for i, feed := range a.ThreatFeeds {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendEscaped(dst, feed)
		}
		dst = append(dst, " cs1Label=threatFeeds"...)
	}
	if a.DedupKey != "" {
		dst = appendString(dst, " cs2", a.DedupKey)
		dst = append(dst, " cs2Label=dedupKey"...)
	}
	if a.Details != "" {
		dst = appendString(dst, " cs3", a.Details)
		dst = append(dst, " cs3Label=details"...)
	}
	dst = appendString(dst, " cs4", a.Severity.String())
	dst = append(dst, " cs4Label=severity"...)
	dst = appendString(dst, " deviceExternalId", f.deviceID)
	if a.Summary != "" {
		dst = appendString(dst, " msg", a.Summary)
	}
	return dst, nil
}

// flowSignature is a flow's signature ID and name.
const flowSignature = "flow"

// AppendFlow appends the flow's CEF line: severity 1, or 5 when either
// address is on a threat feed. Bytes and packets are scaled by the
// sampling rate (cn2 carries the rate).
func (f *Format) AppendFlow(dst []byte, fl *record.Flow, id string) ([]byte, error) {
	severity := 1
	if fl.SrcThreatFeeds|fl.DstThreatFeeds != 0 {
		severity = 5
	}
	dst = f.appendHeader(dst, flowSignature, "network flow", severity)
	dst = appendString(dst, "externalId", id)
	dst = appendMillis(dst, " rt", fl.TimeReceived/1e6)
	if fl.TimeFlowStart != 0 {
		dst = appendMillis(dst, " start", fl.TimeFlowStart)
	}
	if fl.TimeFlowEnd != 0 {
		dst = appendMillis(dst, " end", fl.TimeFlowEnd)
	}
	dst = appendString(dst, " cat", flowSignature)
	dst = appendEndpoints(dst, fl.SrcAddr, fl.DstAddr, fl.SrcPort, fl.DstPort, fl.Proto)
	dst = appendAddr(dst, " dvc", deviceIPv6, fl.ExporterAddress)
	if fl.ExporterName != "" {
		dst = appendString(dst, " dvchost", fl.ExporterName)
	}
	rate := fl.SamplingRate
	if rate == 0 {
		rate = 1
	}
	dst = appendUint(dst, " in", fl.Bytes*rate)
	dst = appendUint(dst, " cn1", fl.Packets*rate)
	dst = append(dst, " cn1Label=packets"...)
	dst = appendUint(dst, " cn2", rate)
	dst = append(dst, " cn2Label=samplingRate"...)
	if fl.InIfName != "" {
		dst = appendString(dst, " deviceInboundInterface", fl.InIfName)
	}
	if fl.OutIfName != "" {
		dst = appendString(dst, " deviceOutboundInterface", fl.OutIfName)
	}
	switch fl.TrafficDirection {
	case record.DirectionInbound:
		dst = append(dst, " deviceDirection=0"...)
	case record.DirectionOutbound:
		dst = append(dst, " deviceDirection=1"...)
	}
	if fl.ServiceName != "" {
		dst = appendString(dst, " app", fl.ServiceName)
	}
	if feeds := fl.SrcThreatFeeds | fl.DstThreatFeeds; feeds != 0 {
		dst = append(dst, " cs1="...)
		for first := true; feeds != 0; first = false {
			var name string
			feeds, name = feeds.Pop()
			if !first {
				dst = append(dst, ',')
			}
			dst = appendEscaped(dst, name)
		}
		dst = append(dst, " cs1Label=threatFeeds"...)
	}
	if !fl.CommunityID.IsZero() {
		// The base64 text ends in '=', which the extension escapes.
		var text [32]byte
		dst = append(dst, " cs6="...)
		dst = appendEscaped(dst, fl.CommunityID.AppendText(text[:0]))
		dst = append(dst, " cs6Label=communityId"...)
	}
	dst = appendString(dst, " deviceExternalId", f.deviceID)
	return dst, nil
}

func (f *Format) appendHeader(dst []byte, signature, name string, severity int) []byte {
	dst = append(dst, "CEF:0|sluice|sluice|"...)
	dst = appendHeaderField(dst, f.version, false)
	dst = append(dst, '|')
	dst = appendHeaderField(dst, signature, false)
	dst = append(dst, '|')
	dst = appendHeaderField(dst, name, true)
	dst = append(dst, '|')
	dst = strconv.AppendInt(dst, int64(severity), 10)
	return append(dst, '|')
}

// appendHeaderField escapes a header field: `\` and `|` get a backslash,
// control characters (line breaks are not allowed in the header) become
// spaces; words, when set, turns `_` into spaces (a detection's name in
// words).
func appendHeaderField(dst []byte, s string, words bool) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' || c == '|':
			dst = append(dst, '\\', c)
		case c < 0x20 || c == 0x7f || words && c == '_':
			dst = append(dst, ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// appendEscaped escapes an extension value: `\` and `=` get a backslash,
// line breaks are written \n and \r, other control characters become
// spaces. `|` needs no escaping in the extension.
func appendEscaped[S string | []byte](dst []byte, s S) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' || c == '=':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c < 0x20 || c == 0x7f:
			dst = append(dst, ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// appendString appends key=value; key carries its leading space, if any.
func appendString(dst []byte, key, value string) []byte {
	dst = append(dst, key...)
	dst = append(dst, '=')
	return appendEscaped(dst, value)
}

func appendUint(dst []byte, key string, v uint64) []byte {
	dst = append(dst, key...)
	dst = append(dst, '=')
	return strconv.AppendUint(dst, v, 10)
}

func appendMillis(dst []byte, key string, ms int64) []byte {
	dst = append(dst, key...)
	dst = append(dst, '=')
	return strconv.AppendInt(dst, ms, 10)
}

// IPv6 addresses go in the dictionary's custom IPv6 fields with their
// labels, as the CEF standard asks of every custom field and as ArcSight
// and other producers use them: c6a1 the device, c6a2 the source, c6a3
// the destination (c6a4 is left: ArcSight connectors put their own, the
// agent's, address there).
const (
	deviceIPv6      = " c6a1Label=Device IPv6 Address c6a1"
	sourceIPv6      = " c6a2Label=Source IPv6 Address c6a2"
	destinationIPv6 = " c6a3Label=Destination IPv6 Address c6a3"
)

// appendAddr appends an address under key4 when it is IPv4, under key6
// (one of the constants above) when IPv6, nothing when unset.
func appendAddr(dst []byte, key4, key6 string, a record.Addr) []byte {
	if a.IsZero() {
		return dst
	}
	ip := netip.AddrFrom16(a).Unmap()
	if ip.Is4() {
		dst = append(dst, key4...)
	} else {
		dst = append(dst, key6...)
	}
	dst = append(dst, '=')
	return ip.AppendTo(dst)
}

func appendEndpoints(dst []byte, src, dstAddr record.Addr, sport, dport uint16, proto uint8) []byte {
	dst = appendAddr(dst, " src", sourceIPv6, src)
	dst = appendAddr(dst, " dst", destinationIPv6, dstAddr)
	if sport != 0 {
		dst = appendUint(dst, " spt", uint64(sport))
	}
	if dport != 0 {
		dst = appendUint(dst, " dpt", uint64(dport))
	}
	if proto != 0 {
		dst = append(dst, " proto="...)
		dst = appendProto(dst, proto)
	}
	return dst
}

// appendProto writes the transport protocol by name (transportProtocol:
// TCP, UDP…), by number when it has no common name.
func appendProto(dst []byte, p uint8) []byte {
	switch p {
	case 1:
		return append(dst, "ICMP"...)
	case 6:
		return append(dst, "TCP"...)
	case 17:
		return append(dst, "UDP"...)
	case 47:
		return append(dst, "GRE"...)
	case 50:
		return append(dst, "ESP"...)
	case 58:
		return append(dst, "IPv6-ICMP"...)
	case 132:
		return append(dst, "SCTP"...)
	}
	return strconv.AppendUint(dst, uint64(p), 10)
}
