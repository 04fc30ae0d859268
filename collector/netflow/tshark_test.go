package netflow

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sluice/internal/pcap"
	"sluice/internal/testenv"
	"sluice/internal/tshark"
	"sluice/pipeline/record"
)

// tsharkDifferences are the known differences between sluice and tshark.
// Each entry must still be needed: an entry that matches no difference
// fails the test, so the table does not outlive the differences it explains.
var tsharkDifferences = []tshark.Difference{
	{File: "logstash__nf5-invalid.pcap", Field: "count", Reason: "the v5 headers claim 55582 and 163 records where 30 fit: sluice rejects such a datagram whole " +
		"(its contents cannot be trusted, counted as truncated), tshark decodes the 30 that fit"},
	{File: "logstash__nf9-invalid01.pcap", Field: "count", Reason: "the v9 header counts 2 records but the datagram holds a third set, of data: tshark stops at the count, " +
		"sluice decodes every set (exporters send counts of 0 or too low) and counts netflow_header_count_mismatches_total"},
	{File: "logstash__nf9-h3c.pcap", Field: "count", Reason: "the H3C template gives IE 43 (IPV4_ROUTER_SC, an IPv4 address) 2 bytes: tshark marks the first record " +
		"malformed (\"Trying to fetch an IPv4 address with length 2\") and stops; sluice, which does not read IE 43, decodes the 16 records"},
}

// checked is one record field compared with tshark. want returns tshark's
// value formatted as sluice's, and false when tshark does not report it.
type checked struct {
	field string
	want  func(r *tshark.Record, ctx *tsharkContext) (string, bool)
	got   func(f *record.Flow) string
}

// tsharkContext is what a record's expected values need beyond the record:
// the sampling rates the capture's options data announced so far, by
// sampler ID ("" for none).
type tsharkContext struct {
	samplers map[string]uint64
}

func firstOf(r *tshark.Record, names ...string) (string, bool) {
	for _, n := range names {
		if v, ok := r.First(n); ok {
			return v, true
		}
	}
	return "", false
}

func uintOf(r *tshark.Record, names ...string) (uint64, bool) {
	for _, n := range names {
		if v, ok := r.Uint(n); ok {
			return v, true
		}
	}
	return 0, false
}

func uintField(names ...string) func(*tshark.Record, *tsharkContext) (string, bool) {
	return func(r *tshark.Record, _ *tsharkContext) (string, bool) {
		v, ok := uintOf(r, names...)
		return strconv.FormatUint(v, 10), ok
	}
}

func addrField(names ...string) func(*tshark.Record, *tsharkContext) (string, bool) {
	return func(r *tshark.Record, _ *tsharkContext) (string, bool) {
		s, ok := firstOf(r, names...)
		return tshark.Addr(s), ok
	}
}

func macField(names ...string) func(*tshark.Record, *tsharkContext) (string, bool) {
	return func(r *tshark.Record, _ *tsharkContext) (string, bool) {
		s, ok := firstOf(r, names...)
		return tshark.MAC(s), ok
	}
}

func u(v uint64) string { return strconv.FormatUint(v, 10) }

// decimalMillis parses tshark's "944948.659000000" seconds as milliseconds.
func decimalMillis(s string) (int64, bool) {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, false
	}
	r.Mul(r, big.NewRat(1000, 1))
	return new(big.Int).Quo(r.Num(), r.Denom()).Int64(), true
}

// flowTime is a record's start or end in Unix milliseconds, from tshark's
// absolute time, or from its uptime-relative time and the header's uptime
// and export time (RFC 3954 §5.1: the flow's sysUpTime is relative to the
// header's).
func flowTime(abs, rel string) func(*tshark.Record, *tsharkContext) (string, bool) {
	return func(r *tshark.Record, _ *tsharkContext) (string, bool) {
		// Several encodings of the same time may be present (ntop sends
		// seconds and milliseconds): the most precise, the latest, wins.
		if values := r.Fields[abs]; len(values) > 0 {
			var latest int64
			for _, s := range values {
				t, err := time.Parse("Jan _2, 2006 15:04:05.999999999 MST", s)
				if err != nil {
					return "unparsable " + s, true
				}
				latest = max(latest, t.UnixMilli())
			}
			return strconv.FormatInt(latest, 10), true
		}
		s, ok := r.First(rel)
		if !ok {
			return "", false
		}
		uptime, ok1 := r.First("cflow.sysuptime")
		secs, ok2 := r.Uint("cflow.unix_secs")
		if !ok1 || !ok2 {
			return "", false
		}
		flowUp, _ := decimalMillis(s)
		headerUp, _ := decimalMillis(uptime)
		exportMillis := int64(secs) * 1000
		if nsecs, ok := r.Uint("cflow.unix_nsecs"); ok {
			exportMillis += int64(nsecs) / 1e6
		}
		return strconv.FormatInt(exportMillis-(headerUp-flowUp), 10), true
	}
}

var netflowChecks = []checked{
	{"SrcAddr", addrField("cflow.srcaddr", "cflow.srcaddrv6"), func(f *record.Flow) string { return f.SrcAddr.String() }},
	{"DstAddr", addrField("cflow.dstaddr", "cflow.dstaddrv6"), func(f *record.Flow) string { return f.DstAddr.String() }},
	{"SrcPort", uintField("cflow.srcport"), func(f *record.Flow) string { return u(uint64(f.SrcPort)) }},
	{"DstPort", uintField("cflow.dstport"), func(f *record.Flow) string { return u(uint64(f.DstPort)) }},
	{"Proto", uintField("cflow.protocol"), func(f *record.Flow) string { return u(uint64(f.Proto)) }},
	// The one counter rule and the NSEL event rule (counted, below).
	{"Bytes", counted("cflow.octets", "cflow.permanent_octets", "cflow.initiator_octets", "cflow.post_octets"), func(f *record.Flow) string { return u(f.Bytes) }},
	{"Packets", counted("cflow.packets", "cflow.permanent_packets", "cflow.initiator_packets", "cflow.post_packets"), func(f *record.Flow) string { return u(f.Packets) }},
	{"FirewallEvent", uintField("cflow.firewall_event"), func(f *record.Flow) string { return u(uint64(f.FirewallEvent)) }},
	{"FirewallExtEvent", uintField("cflow.fw_ext_event"), func(f *record.Flow) string { return u(uint64(f.FirewallExtEvent)) }},
	{"IngressACL", hexField("cflow.ingress_acl_id"), func(f *record.Flow) string { return aclHex(f.IngressACL, f.IngressACE, f.IngressACEExt) }},
	{"EgressACL", hexField("cflow.egress_acl_id"), func(f *record.Flow) string { return aclHex(f.EgressACL, f.EgressACE, f.EgressACEExt) }},
	{"TCPFlags", uintField("cflow.tcpflags"), func(f *record.Flow) string { return u(uint64(f.TCPFlags)) }},
	{"IPTos", uintField("cflow.tos"), func(f *record.Flow) string { return u(uint64(f.IPTos)) }},
	{"InIfIndex", uintField("cflow.inputint", "cflow.ingress_physical_interface"), func(f *record.Flow) string { return u(uint64(f.InIfIndex)) }},
	{"OutIfIndex", uintField("cflow.outputint", "cflow.egress_physical_interface"), func(f *record.Flow) string { return u(uint64(f.OutIfIndex)) }},
	{"SrcNetMask", uintField("cflow.srcmask", "cflow.srcmaskv6"), func(f *record.Flow) string { return u(uint64(f.SrcNetMask)) }},
	{"DstNetMask", uintField("cflow.dstmask", "cflow.dstmaskv6"), func(f *record.Flow) string { return u(uint64(f.DstNetMask)) }},
	{"SrcAS", uintField("cflow.srcas"), func(f *record.Flow) string { return u(uint64(f.SrcAS)) }},
	{"DstAS", uintField("cflow.dstas"), func(f *record.Flow) string { return u(uint64(f.DstAS)) }},
	{"NextHop", addrField("cflow.nexthop", "cflow.nexthopv6"), func(f *record.Flow) string { return f.NextHop.String() }},
	{"BGPNextHop", addrField("cflow.bgpnexthop", "cflow.bgpnexthopv6"), func(f *record.Flow) string { return f.BGPNextHop.String() }},
	{"SrcVlan", uintField("cflow.vlanid", "cflow.dot1q_vlan_id"), func(f *record.Flow) string { return u(uint64(f.SrcVlan)) }},
	{"DstVlan", uintField("cflow.post_vlanid", "cflow.post_dot1q_vlan_id"), func(f *record.Flow) string { return u(uint64(f.DstVlan)) }},
	{"SrcMAC", macField("cflow.srcmac", "cflow.post_srcmac"), func(f *record.Flow) string { return u(f.SrcMAC) }},
	{"DstMAC", macField("cflow.dstmac", "cflow.post_dstmac"), func(f *record.Flow) string { return u(f.DstMAC) }},
	{"FlowDirection", func(r *tshark.Record, _ *tsharkContext) (string, bool) {
		v, ok := r.Uint("cflow.direction")
		return u(v + 1), ok
	}, func(f *record.Flow) string { return u(uint64(f.FlowDirection)) }},
	{"ForwardingStatus", func(r *tshark.Record, _ *tsharkContext) (string, bool) {
		// tshark splits the byte: status in the top 2 bits, reason code below.
		status, ok := r.Uint("cflow.forwarding_status")
		code, _ := uintOf(r, "cflow.forwarding_status_forward_code", "cflow.forwarding_status_drop_code",
			"cflow.forwarding_status_consume_code", "cflow.forwarding_status_unknown_code")
		return u(status<<6 | code), ok
	}, func(f *record.Flow) string { return u(uint64(f.ForwardingStatus)) }},
	{"SamplerID", uintField("cflow.sampler_id"), func(f *record.Flow) string { return u(f.SamplerID) }},
	{"IPv6FlowLabel", uintField("cflow.ipv6flowlabel"), func(f *record.Flow) string { return u(uint64(f.IPv6FlowLabel)) }},
	{"IPTTL", uintField("cflow.ip_ttl", "cflow.ttl_min", "cflow.ttl_max"), func(f *record.Flow) string { return u(uint64(f.IPTTL)) }},
	{"IPFragmentID", uintField("cflow.frag_ident"), func(f *record.Flow) string { return u(uint64(f.IPFragmentID)) }},
	{"ICMPType", func(r *tshark.Record, _ *tsharkContext) (string, bool) {
		if v, ok := uintOf(r, "cflow.icmp_type_code_ipv4", "cflow.icmp_type_code_ipv6"); ok {
			return u(v >> 8), true
		}
		return uintField("cflow.icmp_ipv4_type", "cflow.icmp_ipv6_type")(r, nil)
	}, func(f *record.Flow) string { return u(uint64(f.ICMPType)) }},
	{"ICMPCode", func(r *tshark.Record, _ *tsharkContext) (string, bool) {
		if v, ok := uintOf(r, "cflow.icmp_type_code_ipv4", "cflow.icmp_type_code_ipv6"); ok {
			return u(v & 0xff), true
		}
		return uintField("cflow.icmp_ipv4_code", "cflow.icmp_ipv6_code")(r, nil)
	}, func(f *record.Flow) string { return u(uint64(f.ICMPCode)) }},
	{"EType", func(r *tshark.Record, _ *tsharkContext) (string, bool) {
		switch v, _ := r.Uint("cflow.ip_version"); v {
		case 4:
			return u(0x0800), true
		case 6:
			return u(0x86dd), true
		}
		return "", false
	}, func(f *record.Flow) string { return u(uint64(f.EType)) }},
	{"TimeFlowStart", flowTime("cflow.abstimestart", "cflow.timestart"), func(f *record.Flow) string { return strconv.FormatInt(f.TimeFlowStart, 10) }},
	{"TimeFlowEnd", flowTime("cflow.abstimeend", "cflow.timeend"), func(f *record.Flow) string { return strconv.FormatInt(f.TimeFlowEnd, 10) }},
	{"MPLS1stLabel", tsharkMPLSLabel(0), func(f *record.Flow) string { return u(uint64(f.MPLS1stLabel)) }},
	{"MPLS2ndLabel", tsharkMPLSLabel(1), func(f *record.Flow) string { return u(uint64(f.MPLS2ndLabel)) }},
	{"MPLS3rdLabel", tsharkMPLSLabel(2), func(f *record.Flow) string { return u(uint64(f.MPLS3rdLabel)) }},
	{"IngressVRFID", uintField("cflow.ingress_vrfid"), func(f *record.Flow) string { return u(uint64(f.IngressVRFID)) }},
	{"EgressVRFID", uintField("cflow.egress_vrfid"), func(f *record.Flow) string { return u(uint64(f.EgressVRFID)) }},
	{"SrcAddrNAT", addrField("cflow.post_natsource_ipv4_address", "cflow.post_natsource_ipv6_address"), func(f *record.Flow) string { return f.SrcAddrNAT.String() }},
	{"DstAddrNAT", addrField("cflow.post_natdestination_ipv4_address", "cflow.post_natdestination_ipv6_address"), func(f *record.Flow) string { return f.DstAddrNAT.String() }},
	{"SrcPortNAT", uintField("cflow.post_naptsource_transport_port"), func(f *record.Flow) string { return u(uint64(f.SrcPortNAT)) }},
	{"DstPortNAT", uintField("cflow.post_naptdestination_transport_port"), func(f *record.Flow) string { return u(uint64(f.DstPortNAT)) }},
	{"SamplingRate", func(r *tshark.Record, ctx *tsharkContext) (string, bool) {
		if v, ok := r.Uint("cflow.sampling_interval"); ok && v != 0 {
			return u(v), true
		}
		if interval, ok := r.Uint("cflow.sampling_packet_interval"); ok && interval != 0 {
			space, _ := r.Uint("cflow.sampling_packet_space")
			return u((interval + space) / interval), true
		}
		if v, ok := r.Uint("cflow.samplerate"); ok && v != 0 { // v5 header
			return u(v), true
		}
		id, _ := r.First("cflow.sampler_id")
		if rate, ok := ctx.samplers[id]; ok {
			return u(rate), true
		}
		if rate, ok := ctx.samplers[""]; ok {
			return u(rate), true
		}
		return "", false
	}, func(f *record.Flow) string { return u(f.SamplingRate) }},
}

// counted is a record's expected Bytes or Packets from tshark's counters:
// the conventions of README's "Decoding choices", in one place.
//
//   - The one counter rule: the first of delta, total, NSEL initiator and
//     post (OUT) counters the record has, zero or not (names, in order).
//   - The NSEL event rule: a record with a firewall event other than 2
//     (flow deleted) stores no counts but delta ones: the first name (IE
//     1/2) or the last (post, IE 23/24), whichever the rule chose.
func counted(names ...string) func(*tshark.Record, *tsharkContext) (string, bool) {
	return func(r *tshark.Record, _ *tsharkContext) (string, bool) {
		for i, n := range names {
			v, ok := r.Uint(n)
			if !ok {
				continue
			}
			delta := i == 0 || i == len(names)-1
			if ev, _ := r.Uint("cflow.firewall_event"); ev != 0 && ev != 2 && !delta {
				return "0", true
			}
			return u(v), true
		}
		return "", false
	}
}

// hexField is a byte-string field as tshark prints it, in hex.
func hexField(name string) func(*tshark.Record, *tsharkContext) (string, bool) {
	return func(r *tshark.Record, _ *tsharkContext) (string, bool) {
		s, ok := r.First(name)
		return strings.ReplaceAll(s, ":", ""), ok
	}
}

func aclHex(acl, ace, ext uint32) string { return fmt.Sprintf("%08x%08x%08x", acl, ace, ext) }

// tsharkMPLSLabel is the label of the i-th label stack entry tshark decoded
// (IE 70, 71, 72: cflow.mpls_label, in template order).
func tsharkMPLSLabel(i int) func(*tshark.Record, *tsharkContext) (string, bool) {
	return func(r *tshark.Record, _ *tsharkContext) (string, bool) {
		labels := r.Fields["cflow.mpls_label"]
		if i >= len(labels) {
			return "", false
		}
		return labels[i], true
	}
}

// learnSamplers records the sampling rates of a frame's options data.
func (ctx *tsharkContext) learnSamplers(f *tshark.Frame) {
	for _, o := range f.Options {
		rate, ok := ctx.rateOf(o)
		if !ok {
			continue
		}
		id, _ := firstOf(&tshark.Record{Fields: o}, "cflow.sampler_id", "cflow.selector_id")
		ctx.samplers[id] = rate
	}
}

// rateOf is the sampling rate an options record announces, if any.
func (*tsharkContext) rateOf(o map[string][]string) (uint64, bool) {
	r := tshark.Record{Fields: o}
	rate, ok := uintOf(&r, "cflow.sampling_interval", "cflow.sampler_random_interval")
	if !ok {
		if interval, ok2 := r.Uint("cflow.sampling_packet_interval"); ok2 && interval != 0 {
			space, _ := r.Uint("cflow.sampling_packet_space")
			rate, ok = (interval+space)/interval, true
		}
	}
	return rate, ok && rate != 0
}

// reverseCounters maps tshark's names of the fields RFC 5103 reverses
// (counters and TCP flags) to their template labels.
var reverseCounters = map[string]string{
	"cflow.octets":            "BYTES",
	"cflow.packets":           "PKTS",
	"cflow.permanent_octets":  "BYTES_TOTAL",
	"cflow.permanent_packets": "PACKETS_TOTAL",
	"cflow.tcpflags":          "TCP_FLAGS",
}

// swapped pairs of tshark fields for a reverse record.
var swapped = [][2]string{
	{"cflow.srcaddr", "cflow.dstaddr"}, {"cflow.srcaddrv6", "cflow.dstaddrv6"},
	{"cflow.srcport", "cflow.dstport"}, {"cflow.srcmask", "cflow.dstmask"},
	{"cflow.srcmaskv6", "cflow.dstmaskv6"}, {"cflow.srcas", "cflow.dstas"},
	{"cflow.inputint", "cflow.outputint"}, {"cflow.vlanid", "cflow.post_vlanid"},
	{"cflow.srcmac", "cflow.dstmac"},
	{"cflow.post_natsource_ipv4_address", "cflow.post_natdestination_ipv4_address"},
	{"cflow.post_naptsource_transport_port", "cflow.post_naptdestination_transport_port"},
}

// expandBiflow returns what sluice must emit for one tshark record: the
// record itself and, for an RFC 5103 biflow record whose reverse direction
// counted something, the reverse record: source and destination swapped,
// the reverse counters and TCP flags (0 without reverse ones), the
// direction flipped. tshark names a reverse field as its forward one; the
// template's labels ("BYTES" before "BYTES [Reverse]") say which
// occurrence is which.
func expandBiflow(t *testing.T, r tshark.Record) []tshark.Record {
	if rev, ok := nselReverse(r); ok {
		return rev
	}
	forwardFirst := map[string]bool{} // label → the forward value comes first
	biflow := false
	for i, label := range r.Template {
		base, ok := strings.CutSuffix(label, " [Reverse]")
		if !ok {
			continue
		}
		if j := slices.Index(r.Template, base); j >= 0 {
			forwardFirst[base] = j < i
			biflow = true
		}
	}
	if !biflow {
		return []tshark.Record{r}
	}
	fwd := tshark.Record{Frame: r.Frame, Index: r.Index, Header: r.Header, Fields: maps.Clone(r.Fields)}
	rev := tshark.Record{Frame: r.Frame, Index: r.Index, Header: r.Header, Fields: maps.Clone(r.Fields)}
	counted := false
	for name, label := range reverseCounters {
		values := r.Fields[name]
		first, ok := forwardFirst[label]
		if !ok || len(values) != 2 {
			continue
		}
		f, b := values[0], values[1]
		if !first {
			f, b = b, f
		}
		fwd.Fields[name], rev.Fields[name] = []string{f}, []string{b}
		if label != "TCP_FLAGS" && b != "0" {
			counted = true
		}
	}
	if !counted {
		return []tshark.Record{fwd}
	}
	if _, reversed := forwardFirst["TCP_FLAGS"]; !reversed && rev.Fields["cflow.tcpflags"] != nil {
		rev.Fields["cflow.tcpflags"] = []string{"0"} // the forward flags only: the reverse ones are unknown
	}
	swapDirection(&rev)
	return []tshark.Record{fwd, rev}
}

// nselReverse returns what sluice must emit for an NSEL record with
// responder counts (IE 232/299): the record, and, when the responder sent
// something and the event's counts are stored (teardown, or no event: the
// NSEL event rule), the reverse record with the responder's counts as
// its initiator ones, swapped as for RFC 5103. ok is false for a record
// without responder counts.
func nselReverse(r tshark.Record) (_ []tshark.Record, ok bool) {
	revBytes, okBytes := r.Uint("cflow.responder_octets")
	revPackets, okPackets := r.Uint("cflow.responder_packets")
	if !okBytes && !okPackets {
		return nil, false
	}
	if ev, _ := r.Uint("cflow.firewall_event"); (ev != 0 && ev != 2) || revBytes == 0 && revPackets == 0 {
		return []tshark.Record{r}, true
	}
	rev := tshark.Record{Frame: r.Frame, Index: r.Index, Header: r.Header, Fields: maps.Clone(r.Fields)}
	setOrDelete(rev.Fields, "cflow.initiator_octets", r.Fields["cflow.responder_octets"])
	setOrDelete(rev.Fields, "cflow.initiator_packets", r.Fields["cflow.responder_packets"])
	if rev.Fields["cflow.tcpflags"] != nil {
		rev.Fields["cflow.tcpflags"] = []string{"0"}
	}
	swapDirection(&rev)
	return []tshark.Record{r, rev}, true
}

// swapDirection makes rev describe the other direction: source and
// destination fields swapped, the flow direction flipped.
func swapDirection(rev *tshark.Record) {
	for _, pair := range swapped {
		a, b := rev.Fields[pair[0]], rev.Fields[pair[1]]
		setOrDelete(rev.Fields, pair[0], b)
		setOrDelete(rev.Fields, pair[1], a)
	}
	if d, ok := rev.Uint("cflow.direction"); ok {
		rev.Fields["cflow.direction"] = []string{u(d ^ 1)}
	}
}

func setOrDelete(m map[string][]string, k string, v []string) {
	if v == nil {
		delete(m, k)
	} else {
		m[k] = v
	}
}

// isNetFlow tells NetFlow/IPFIX captures from sFlow ones by the first
// datagram's version field.
func isNetFlow(payload []byte) bool {
	return len(payload) >= 2 && binary.BigEndian.Uint16(payload) != 0 || len(payload) >= 4 && binary.BigEndian.Uint32(payload) != 5
}

// TestFieldsMatchTshark decodes every NetFlow v5/v9 and IPFIX capture of
// the corpus, and what real exporters sent (collector/interop records
// them), with sluice and with tshark, matches their records in order,
// frame by frame, and compares every field both report. It is the main
// fidelity test of the decoder: expected values all come from tshark.
func TestFieldsMatchTshark(t *testing.T) {
	c := tshark.NewComparison(t, testenv.Tshark(t), "record", tsharkDifferences)
	for cp := range c.Captures(corpusDir(t), isNetFlow) {
		var records []tshark.Record
		for _, r := range cp.Records {
			records = append(records, expandBiflow(t, r)...)
		}
		cp.Records = records
		frameInfo := map[int]*tshark.Frame{}
		for i := range cp.Frames {
			frameInfo[cp.Frames[i].Number] = &cp.Frames[i]
		}
		ctx := &tsharkContext{samplers: map[string]uint64{}}
		checks := make([]tshark.Check, len(netflowChecks))
		for i, nc := range netflowChecks {
			checks[i] = tshark.Check{Field: nc.field, Want: func(r *tshark.Record) (string, bool) { return nc.want(r, ctx) }, Got: nc.got}
		}
		d := New(Config{})
		c.Compare(cp, checks, func(dg pcap.Datagram, emit func(*record.Flow)) {
			if fr := frameInfo[dg.Frame]; fr != nil {
				ctx.learnSamplers(fr)
			}
			d.Decode(record.AddrFromSlice(dg.Src.AsSlice()), dg.Timestamp, dg.Payload, emit)
		})
	}
	c.Finish()
	if c.Files < 40 {
		t.Errorf("compared %d NetFlow/IPFIX captures; the corpus has more than 40", c.Files)
	}
	t.Logf("%d captures, %d records compared, %d identical in every field tshark reports; values compared per field: %v", c.Files, c.Records, c.Identical, c.Compared)
}
