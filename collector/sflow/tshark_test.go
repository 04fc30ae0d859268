package sflow

import (
	"encoding/binary"
	"strconv"
	"testing"

	"sluice/internal/pcap"
	"sluice/internal/testenv"
	"sluice/internal/tshark"
	"sluice/pipeline/record"
)

// tsharkDifferences are the known differences between sluice and tshark.
// An entry that matches no difference fails the test.
var tsharkDifferences = []tshark.Difference{
	{File: "akvorado__sflow-1140.pcap", Field: "SrcVlan", Reason: "the agent sends 0xffffffff (unknown) in extended switch data; a VLAN ID has 12 bits: sluice stores 0, tshark prints the raw value"},
	{File: "akvorado__sflow-1140.pcap", Field: "DstVlan", Reason: "as SrcVlan: 0xffffffff is no VLAN ID"},
	{File: "telegraf__sflow-issue15918.pcap", Field: "Proto", Reason: "the sampled IPv6 packet starts with a hop-by-hop header: tshark's ipv6.nxt is that header (0), " +
		"sluice walks the extension headers to the transport protocol (58, ICMPv6), as NetFlow's protocolIdentifier means"},
}

func u(v uint64) string { return strconv.FormatUint(v, 10) }

// values returns a field's values in a record, or in one of its parts when
// part is set.
func values(r *tshark.Record, part, name string) []string {
	if part == "" {
		return r.Fields[name]
	}
	return r.Part(part)[name]
}

func first(r *tshark.Record, part string, names ...string) (string, bool) {
	for _, n := range names {
		if v := values(r, part, n); len(v) > 0 {
			return v[0], true
		}
	}
	return "", false
}

func uintOf(r *tshark.Record, part string, names ...string) (uint64, bool) {
	s, ok := first(r, part, names...)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 0, 64)
	return v, err == nil
}

func uintField(part string, names ...string) func(*tshark.Record) (string, bool) {
	return func(r *tshark.Record) (string, bool) {
		v, ok := uintOf(r, part, names...)
		return u(v), ok
	}
}

func addrField(part string, names ...string) func(*tshark.Record) (string, bool) {
	return func(r *tshark.Record) (string, bool) {
		s, ok := first(r, part, names...)
		return tshark.Addr(s), ok
	}
}

func macField(names ...string) func(*tshark.Record) (string, bool) {
	return func(r *tshark.Record) (string, bool) {
		s, ok := first(r, rawHeader, names...)
		return tshark.MAC(s), ok
	}
}

// Parts of a flow sample as tshark labels them.
const (
	rawHeader = "Raw packet header"
	router    = "Extended router data"
	gateway   = "Extended gateway data"
	switched  = "Extended switch data"
)

// headerIP reports whether tshark decoded the sampled header down to IP;
// the fields of the header are compared only then.
func headerIP(r *tshark.Record) bool {
	p := r.Part(rawHeader)
	return p["ip.src"] != nil || p["ipv6.src"] != nil
}

func fromHeader(f func(*tshark.Record) (string, bool)) func(*tshark.Record) (string, bool) {
	return func(r *tshark.Record) (string, bool) {
		if !headerIP(r) {
			return "", false
		}
		return f(r)
	}
}

var sflowChecks = []tshark.Check{
	{Field: "SamplingRate", Want: uintField("", "sflow.flow_sample.sampling_rate"), Got: func(f *record.Flow) string { return u(f.SamplingRate) }},
	{Field: "InIfIndex", Want: func(r *tshark.Record) (string, bool) {
		if format, ok := uintOf(r, "", "sflow.flow_sample.input_interface_format"); ok && format != 0 {
			return "", false
		}
		v, ok := uintOf(r, "", "sflow.flow_sample.input_interface_value", "sflow.flow_sample.input_interface")
		if v == 0x3fffffff { // "internal": stored as 0
			v = 0
		}
		return u(v), ok
	}, Got: func(f *record.Flow) string { return u(uint64(f.InIfIndex)) }},
	{Field: "OutIfIndex", Want: func(r *tshark.Record) (string, bool) {
		if format, _ := uintOf(r, "", "sflow.flow_sample.output_interface_format", "sflow.flow_sample.output_interface.format"); format != 0 {
			return "", false
		}
		v, ok := uintOf(r, "", "sflow.flow_sample.output_interface_value")
		if v == 0x3fffffff {
			v = 0
		}
		return u(v), ok
	}, Got: func(f *record.Flow) string { return u(uint64(f.OutIfIndex)) }},
	{Field: "SrcVlan", Want: func(r *tshark.Record) (string, bool) {
		if v, ok := uintOf(r, switched, "sflow_245.vlan.in"); ok {
			return u(v), true
		}
		// Without extended switch data, the innermost 802.1Q tag.
		if ids := r.Part(rawHeader)["vlan.id"]; len(ids) > 0 {
			return ids[len(ids)-1], true
		}
		return "", false
	}, Got: func(f *record.Flow) string { return u(uint64(f.SrcVlan)) }},
	{Field: "DstVlan", Want: uintField(switched, "sflow_245.vlan.out"), Got: func(f *record.Flow) string { return u(uint64(f.DstVlan)) }},
	{Field: "NextHop", Want: addrField(router, "sflow_245.nexthop", "sflow_245.nexthop.v6"), Got: func(f *record.Flow) string { return f.NextHop.String() }},
	{Field: "SrcNetMask", Want: uintField(router, "sflow_245.nexthop.src_mask"), Got: func(f *record.Flow) string { return u(uint64(f.SrcNetMask)) }},
	{Field: "DstNetMask", Want: uintField(router, "sflow_245.nexthop.dst_mask"), Got: func(f *record.Flow) string { return u(uint64(f.DstNetMask)) }},
	{Field: "BGPNextHop", Want: addrField(gateway, "sflow_245.nexthop", "sflow_245.nexthop.v6"), Got: func(f *record.Flow) string { return f.BGPNextHop.String() }},
	{Field: "SrcAS", Want: func(r *tshark.Record) (string, bool) {
		// An empty source AS is the router's own (sluice, as Akvorado).
		src, ok := uintOf(r, gateway, "sflow_245.srcAS")
		if src == 0 {
			src, _ = uintOf(r, gateway, "sflow_245.as")
		}
		return u(src), ok
	}, Got: func(f *record.Flow) string { return u(uint64(f.SrcAS)) }},
	{Field: "DstAS", Want: func(r *tshark.Record) (string, bool) {
		g := r.Part(gateway)
		if g == nil {
			return "", false
		}
		// tshark names communities sflow_245.dstAS too, after the path:
		// the path is the values before the communities.
		all := g["sflow_245.dstAS"]
		communities, _ := uintOf(r, gateway, "sflow_245.communityEntries")
		path := all[:len(all)-min(len(all), int(communities))]
		if len(path) == 0 {
			return first(r, gateway, "sflow_245.as")
		}
		return path[len(path)-1], true
	}, Got: func(f *record.Flow) string { return u(uint64(f.DstAS)) }},
	{Field: "SrcMAC", Want: macField("eth.src"), Got: func(f *record.Flow) string { return u(f.SrcMAC) }},
	{Field: "DstMAC", Want: macField("eth.dst"), Got: func(f *record.Flow) string { return u(f.DstMAC) }},
	{Field: "SrcAddr", Want: fromHeader(addrField(rawHeader, "ip.src", "ipv6.src")), Got: func(f *record.Flow) string { return f.SrcAddr.String() }},
	{Field: "DstAddr", Want: fromHeader(addrField(rawHeader, "ip.dst", "ipv6.dst")), Got: func(f *record.Flow) string { return f.DstAddr.String() }},
	{Field: "Proto", Want: fromHeader(uintField(rawHeader, "ip.proto", "ipv6.nxt")), Got: func(f *record.Flow) string { return u(uint64(f.Proto)) }},
	{Field: "SrcPort", Want: fromHeader(uintField(rawHeader, "tcp.srcport", "udp.srcport")), Got: func(f *record.Flow) string { return u(uint64(f.SrcPort)) }},
	{Field: "DstPort", Want: fromHeader(uintField(rawHeader, "tcp.dstport", "udp.dstport")), Got: func(f *record.Flow) string { return u(uint64(f.DstPort)) }},
	{Field: "TCPFlags", Want: fromHeader(uintField(rawHeader, "tcp.flags")), Got: func(f *record.Flow) string { return u(uint64(f.TCPFlags)) }},
	{Field: "IPTos", Want: fromHeader(uintField(rawHeader, "ip.dsfield", "ipv6.tclass")), Got: func(f *record.Flow) string { return u(uint64(f.IPTos)) }},
	{Field: "IPTTL", Want: fromHeader(uintField(rawHeader, "ip.ttl", "ipv6.hlim")), Got: func(f *record.Flow) string { return u(uint64(f.IPTTL)) }},
	{Field: "IPv6FlowLabel", Want: fromHeader(uintField(rawHeader, "ipv6.flow")), Got: func(f *record.Flow) string { return u(uint64(f.IPv6FlowLabel)) }},
	{Field: "IPFragmentID", Want: fromHeader(uintField(rawHeader, "ip.id")), Got: func(f *record.Flow) string { return u(uint64(f.IPFragmentID)) }},
	{Field: "ICMPType", Want: fromHeader(uintField(rawHeader, "icmp.type", "icmpv6.type")), Got: func(f *record.Flow) string { return u(uint64(f.ICMPType)) }},
	{Field: "ICMPCode", Want: fromHeader(uintField(rawHeader, "icmp.code", "icmpv6.code")), Got: func(f *record.Flow) string { return u(uint64(f.ICMPCode)) }},
	{Field: "MPLS1stLabel", Want: fromHeader(mplsLabel(0)), Got: func(f *record.Flow) string { return u(uint64(f.MPLS1stLabel)) }},
	{Field: "MPLS2ndLabel", Want: fromHeader(mplsLabel(1)), Got: func(f *record.Flow) string { return u(uint64(f.MPLS2ndLabel)) }},
	{Field: "MPLS3rdLabel", Want: fromHeader(mplsLabel(2)), Got: func(f *record.Flow) string { return u(uint64(f.MPLS3rdLabel)) }},
	// Bytes: the sampled packet's IP length (sluice's documented choice).
	{Field: "Bytes", Want: fromHeader(func(r *tshark.Record) (string, bool) {
		if v, ok := uintOf(r, rawHeader, "ip.len"); ok {
			return u(v), true
		}
		v, ok := uintOf(r, rawHeader, "ipv6.plen")
		return u(v + 40), ok
	}), Got: func(f *record.Flow) string { return u(f.Bytes) }},
}

// mplsLabel is the i-th MPLS label of the sampled header; 0 when the
// header has an MPLS stack shorter than that.
func mplsLabel(i int) func(*tshark.Record) (string, bool) {
	return func(r *tshark.Record) (string, bool) {
		labels := r.Part(rawHeader)["mpls.label"]
		if len(labels) == 0 {
			return "", false
		}
		if i >= len(labels) {
			return "0", true
		}
		return labels[i], true
	}
}

// isSFlow tells sFlow captures by the first datagram's version field.
func isSFlow(payload []byte) bool {
	return len(payload) >= 4 && binary.BigEndian.Uint32(payload) == 5
}

// TestFieldsMatchTshark decodes every sFlow capture of the corpus, and what
// real exporters sent (collector/interop records them), with sluice and
// with tshark, matches flow samples in order, frame by frame, and compares
// every field both report, sampled headers included.
func TestFieldsMatchTshark(t *testing.T) {
	c := tshark.NewComparison(t, testenv.Tshark(t), "sample", tsharkDifferences)
	for cp := range c.Captures(corpusDir(t), isSFlow) {
		d := New(Config{})
		c.Compare(cp, sflowChecks, func(dg pcap.Datagram, emit func(*record.Flow)) {
			d.Decode(record.AddrFromSlice(dg.Src.AsSlice()), dg.Timestamp, dg.Payload, emit)
		})
	}
	c.Finish()
	if c.Files < 15 {
		t.Errorf("compared %d sFlow captures; the corpus has more than 15", c.Files)
	}
	t.Logf("%d captures, %d samples compared, %d identical in every field tshark reports; values compared per field: %v", c.Files, c.Records, c.Identical, c.Compared)
}
