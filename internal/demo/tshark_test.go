package demo

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"sluice/internal/testenv"
	"time"
)

// tsharkFields are the fields the reference decoding extracts, one column each.
var tsharkFields = []string{
	"frame.number", "_ws.malformed", "_ws.expert.severity", "_ws.expert.message",
	// NetFlow v5/v9 and IPFIX
	"cflow.version", "cflow.count", "cflow.sequence", "cflow.source_id", "cflow.od_id", "cflow.sysuptime",
	"cflow.unix_secs", "cflow.engine_id", "cflow.samplerate", "cflow.template_id",
	"cflow.srcaddr", "cflow.srcaddrv6", "cflow.dstaddr", "cflow.dstaddrv6",
	"cflow.nexthop", "cflow.nexthopv6", "cflow.srcport", "cflow.dstport", "cflow.protocol",
	"cflow.tcpflags", "cflow.tos", "cflow.srcmask", "cflow.srcmaskv6", "cflow.dstmask",
	"cflow.dstmaskv6", "cflow.inputint", "cflow.outputint", "cflow.srcas", "cflow.dstas",
	"cflow.octets", "cflow.packets", "cflow.timestart", "cflow.timeend", "cflow.abstimestart",
	"cflow.abstimeend", "cflow.sampling_interval",
	// sFlow
	"sflow_245.version", "sflow_245.agent", "sflow_245.sub_agent_id", "sflow_245.sequence_number",
	"sflow_245.sysuptime", "sflow_245.numsamples", "sflow.flow_sample.sequence_number",
	"sflow.flow_sample.index", "sflow.flow_sample.sampling_rate",
	"sflow.flow_sample.sample_pool", "sflow.flow_sample.dropped_packets",
	"sflow.flow_sample.input_interface", "sflow.flow_sample.output_interface_value",
	"sflow_245.header_protocol", "sflow_245.header.frame_length", "sflow_245.header.payload_stripped",
	"sflow_245.header.sampled_header_length", "sflow_245.vlan.in", "sflow_245.vlan.out",
	"sflow_245.nexthop", "sflow_245.nexthop.v6", "sflow_245.nexthop.src_mask",
	"sflow_245.nexthop.dst_mask", "sflow_245.as", "sflow_245.srcAS", "sflow_245.dstASentries",
	"sflow_245.dstAS",
	// The sampled frames inside sFlow (after the capture's own Ethernet/IPv4/UDP headers).
	"eth.src", "eth.dst", "vlan.id", "ip.src", "ip.dst", "ip.len", "ip.ttl", "ip.dsfield",
	"ip.proto", "ip.checksum.status", "ipv6.src", "ipv6.dst", "ipv6.plen", "ipv6.nxt",
	"ipv6.tclass", "ipv6.flow", "ipv6.hlim", "tcp.srcport", "tcp.dstport", "tcp.flags",
	"udp.srcport", "udp.dstport", "udp.length", "icmp.type", "icmp.code", "icmpv6.type",
	"icmpv6.code",
}

// requireTshark returns tshark's path, or skips the test (fails it in CI).
func requireTshark(t *testing.T) string { return testenv.Tshark(t) }

// runTshark decodes the capture and returns each frame's fields, every occurrence in order.
func runTshark(t *testing.T, tshark, pcap string) []map[string][]string {
	t.Helper()
	args := []string{"-r", pcap, "-n",
		"-d", fmt.Sprintf("udp.port==%d,cflow", pcapNetFlowPort),
		"-d", fmt.Sprintf("udp.port==%d,sflow", pcapSFlowPort),
		"-o", "ip.check_checksum:TRUE",
		"-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|", "-E", "separator=;"}
	for _, f := range tsharkFields {
		args = append(args, "-e", f)
	}
	cmd := exec.Command(tshark, args...)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, stderr.String())
	}
	var rows []map[string][]string
	for line := range strings.Lines(string(out)) {
		cols := strings.Split(strings.TrimRight(line, "\n"), ";")
		if len(cols) != len(tsharkFields) {
			t.Fatalf("tshark printed %d columns, want %d: %q", len(cols), len(tsharkFields), line)
		}
		row := map[string][]string{}
		for i, c := range cols {
			if c != "" {
				row[tsharkFields[i]] = strings.Split(c, "|")
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// frameCursor walks the occurrences of each field in one frame, in order.
type frameCursor struct {
	t     *testing.T
	frame int
	row   map[string][]string
	pos   map[string]int
}

func (c *frameCursor) next(field string) string {
	c.t.Helper()
	i := c.pos[field]
	if i >= len(c.row[field]) {
		c.t.Errorf("frame %d: %s has %d occurrences, want more", c.frame, field, len(c.row[field]))
		return ""
	}
	c.pos[field] = i + 1
	return c.row[field][i]
}

func (c *frameCursor) uint(field string, want uint64) {
	c.t.Helper()
	s := c.next(field)
	got, err := strconv.ParseUint(s, 0, 64)
	if err != nil || got != want {
		c.t.Errorf("frame %d: %s = %q, want %d", c.frame, field, s, want)
	}
}

func (c *frameCursor) addr(field string, want netip.Addr) {
	c.t.Helper()
	s := c.next(field)
	if got, err := netip.ParseAddr(s); err != nil || got != want {
		c.t.Errorf("frame %d: %s = %q, want %s", c.frame, field, s, want)
	}
}

func (c *frameCursor) str(field, want string) {
	c.t.Helper()
	if got := c.next(field); got != want {
		c.t.Errorf("frame %d: %s = %q, want %q", c.frame, field, got, want)
	}
}

// uptime checks a relative time field tshark prints in seconds with nanosecond digits.
func (c *frameCursor) uptime(field string, ms uint32) {
	c.t.Helper()
	c.str(field, fmt.Sprintf("%d.%03d000000", ms/1000, ms%1000))
}

// absTime checks an absolute time field, as tshark prints it in UTC.
func (c *frameCursor) absTime(field string, want time.Time) {
	c.t.Helper()
	c.str(field, want.UTC().Format("Jan _2, 2006 15:04:05.000000000 MST"))
}

// consumed checks that no field has occurrences left that no expectation used.
func (c *frameCursor) consumed(fields ...string) {
	c.t.Helper()
	for _, f := range fields {
		if n := len(c.row[f]); c.pos[f] != n {
			c.t.Errorf("frame %d: %s has %d occurrences, %d expected", c.frame, f, n, c.pos[f])
		}
	}
}

var cflowFlowFields = []string{
	"cflow.srcaddr", "cflow.srcaddrv6", "cflow.dstaddr", "cflow.dstaddrv6", "cflow.nexthop",
	"cflow.nexthopv6", "cflow.srcport", "cflow.dstport", "cflow.protocol", "cflow.tcpflags",
	"cflow.tos", "cflow.srcmask", "cflow.srcmaskv6", "cflow.dstmask", "cflow.dstmaskv6",
	"cflow.inputint", "cflow.outputint", "cflow.srcas", "cflow.dstas", "cflow.octets",
	"cflow.packets", "cflow.timestart", "cflow.timeend", "cflow.abstimestart", "cflow.abstimeend",
}

// TestTsharkDecodesEveryDatagram is the reference decoding: tshark must decode every generated
// datagram without error, and find in it exactly the flows the generator says it encoded.
func TestTsharkDecodesEveryDatagram(t *testing.T) {
	tshark := requireTshark(t)
	cfg := DefaultConfig()
	cfg.Exporters = 2
	cfg.IPv6Share = 0.3
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	// Two rounds 31 s apart: the second resends templates (TemplateRefresh is 30 s).
	caps, g := generate(t, cfg, start, []int{400, 400}, 31*time.Second)
	pcap := filepath.Join(t.TempDir(), "demo.pcap")
	writePCAP(t, pcap, caps, start)
	rows := runTshark(t, tshark, pcap)
	if len(rows) != len(caps) {
		t.Fatalf("tshark decoded %d frames, generated %d datagrams", len(rows), len(caps))
	}

	exporters := g.Exporters()
	var decoded Stats // what tshark found, counted independently of the generator
	sequences := map[int]uint32{}
	for i, d := range caps {
		c := &frameCursor{t: t, frame: i + 1, row: rows[i], pos: map[string]int{}}
		if m := rows[i]["_ws.malformed"]; len(m) > 0 {
			t.Errorf("frame %d (%s): malformed: %v", i+1, d.protocol, rows[i]["_ws.expert.message"])
		}
		for j, sev := range rows[i]["_ws.expert.severity"] {
			// 0x00600000 is a warning, 0x00800000 an error (epan/proto.h PI_WARN, PI_ERROR).
			// TCP's analysis warns of resets, which the traffic model sends on purpose.
			msg := rows[i]["_ws.expert.message"][j]
			if v, _ := strconv.ParseUint(sev, 0, 32); v >= 0x00600000 && msg != "Connection reset (RST)" {
				t.Errorf("frame %d (%s): expert info: %s", i+1, d.protocol, msg)
			}
		}
		// The capture's own framing comes first in the frame-wide fields.
		for _, f := range []string{"eth.src", "eth.dst", "ip.src", "ip.dst", "ip.len", "ip.ttl",
			"ip.dsfield", "ip.proto", "ip.checksum.status", "udp.srcport", "udp.dstport", "udp.length"} {
			c.next(f)
		}
		e := exporters[d.exporter]
		seq := sequences[d.exporter]
		var got Counters
		switch d.protocol {
		case NetFlow9:
			c.uint("cflow.version", 9)
			c.uint("cflow.count", uint64(d.templates+len(d.flows)))
			c.uint("cflow.sequence", uint64(seq))
			c.uint("cflow.source_id", uint64(e.ObservationDomain))
			c.uptime("cflow.sysuptime", uptimeMillis(e.Boot, d.export))
			c.uint("cflow.unix_secs", uint64(d.export.Unix()))
			sequences[d.exporter] = seq + 1
			got = checkCflowFlows(c, d, e)
		case IPFIX:
			c.uint("cflow.version", 10)
			c.uint("cflow.sequence", uint64(seq))
			c.uint("cflow.od_id", uint64(e.ObservationDomain))
			sequences[d.exporter] = seq + uint32(len(d.flows))
			got = checkCflowFlows(c, d, e)
		case NetFlow5:
			c.uint("cflow.version", 5)
			c.uint("cflow.count", uint64(len(d.flows)))
			c.uint("cflow.sequence", uint64(seq))
			c.uint("cflow.engine_id", uint64(e.ObservationDomain))
			c.uptime("cflow.sysuptime", uptimeMillis(e.Boot, d.export))
			c.uint("cflow.unix_secs", uint64(d.export.Unix()))
			if e.SamplingRate > 1 {
				c.uint("cflow.samplerate", uint64(e.SamplingRate))
			}
			sequences[d.exporter] = seq + uint32(len(d.flows))
			got = checkCflowFlows(c, d, e)
		case SFlow5:
			c.uint("sflow_245.version", 5)
			c.addr("sflow_245.agent", e.Address)
			c.uint("sflow_245.sub_agent_id", uint64(e.ObservationDomain))
			c.uint("sflow_245.sequence_number", uint64(seq))
			c.uint("sflow_245.sysuptime", uint64(uptimeMillis(e.Boot, d.export)))
			c.uint("sflow_245.numsamples", uint64(len(d.flows)))
			sequences[d.exporter] = seq + 1
			got = checkSFlowSamples(c, d)
		}
		got.Datagrams = 1
		got.PayloadBytes = uint64(len(d.payload))       // the capture's UDP payload
		decoded.record(&Datagram{Protocol: d.protocol}) // counts the datagram under its protocol
		addDecoded(&decoded, d.protocol, got)
		c.consumed(cflowFlowFields...)
		c.consumed("sflow.flow_sample.sequence_number", "sflow_245.header.frame_length", "sflow_245.dstAS",
			"ip.src", "ipv6.src", "tcp.srcport", "udp.srcport", "icmp.type", "icmpv6.type")
	}

	want := g.Stats()
	for _, p := range protocolNames {
		w, _ := want.Protocol(p)
		gotc, _ := decoded.Protocol(p)
		w.Templates = 0
		if gotc != w {
			t.Errorf("%s: tshark decoded %+v, generator encoded %+v", p, gotc, w)
		}
		if w.Flows == 0 {
			t.Errorf("%s: no flows generated", p)
		}
	}
	if want.Flows != 800 {
		t.Errorf("generator encoded %d flows, want 800", want.Flows)
	}
	if want.NetFlow9.Templates == 0 || want.NetFlow9.Templates != want.IPFIX.Templates ||
		want.NetFlow9.Templates != 2*2*uint64(cfg.Exporters) {
		t.Errorf("templates sent: netflow9 %d, ipfix %d; want %d each (2 templates × 2 rounds × exporters)",
			want.NetFlow9.Templates, want.IPFIX.Templates, 4*cfg.Exporters)
	}
}

// addDecoded adds flows, bytes and packets tshark decoded to the protocol's counters.
func addDecoded(s *Stats, protocol string, c Counters) {
	c.Datagrams = 0
	s.Counters.add(c)
	switch protocol {
	case NetFlow5:
		s.NetFlow5.add(c)
	case NetFlow9:
		s.NetFlow9.add(c)
	case IPFIX:
		s.IPFIX.add(c)
	case SFlow5:
		s.SFlow5.add(c)
	}
}

// checkCflowFlows checks the NetFlow v5/v9 or IPFIX records of one frame against the flows the
// generator encoded in it, and returns the totals tshark decoded.
func checkCflowFlows(c *frameCursor, d capture, e ExporterInfo) Counters {
	c.t.Helper()
	if d.templates > 0 {
		c.str("cflow.template_id", strconv.Itoa(templateIDIPv4))
		c.str("cflow.template_id", strconv.Itoa(templateIDIPv6))
	}
	var got Counters
	for _, f := range d.flows {
		if f.SrcAddr.Is4() {
			c.addr("cflow.srcaddr", f.SrcAddr)
			c.addr("cflow.dstaddr", f.DstAddr)
			c.addr("cflow.nexthop", f.NextHop)
			c.uint("cflow.srcmask", uint64(f.SrcMask))
			c.uint("cflow.dstmask", uint64(f.DstMask))
		} else {
			c.addr("cflow.srcaddrv6", f.SrcAddr)
			c.addr("cflow.dstaddrv6", f.DstAddr)
			c.addr("cflow.nexthopv6", f.NextHop)
			c.uint("cflow.srcmaskv6", uint64(f.SrcMask))
			c.uint("cflow.dstmaskv6", uint64(f.DstMask))
		}
		c.uint("cflow.srcport", uint64(f.SrcPort))
		c.uint("cflow.dstport", uint64(f.DstPort))
		c.uint("cflow.protocol", uint64(f.IPProto))
		c.uint("cflow.tcpflags", uint64(f.TCPFlags))
		c.uint("cflow.tos", uint64(f.TOS))
		c.uint("cflow.inputint", uint64(f.InIf))
		c.uint("cflow.outputint", uint64(f.OutIf))
		c.uint("cflow.srcas", uint64(f.SrcAS))
		c.uint("cflow.dstas", uint64(f.DstAS))
		if d.protocol == IPFIX {
			c.absTime("cflow.abstimestart", f.Start)
			c.absTime("cflow.abstimeend", f.End)
		} else {
			c.uptime("cflow.timestart", uptimeMillis(e.Boot, f.Start))
			c.uptime("cflow.timeend", uptimeMillis(e.Boot, f.End))
		}
		if d.protocol != NetFlow5 {
			c.uint("cflow.sampling_interval", uint64(f.SamplingRate))
		}
		if f.SamplingRate != e.SamplingRate || f.Exporter != e.Address || f.ObservationDomain != e.ObservationDomain {
			c.t.Errorf("frame %d: flow's exporter fields %v/%d/%d differ from the exporter's %v/%d/%d", c.frame,
				f.Exporter, f.ObservationDomain, f.SamplingRate, e.Address, e.ObservationDomain, e.SamplingRate)
		}
		octets, _ := strconv.ParseUint(c.next("cflow.octets"), 10, 64)
		packets, _ := strconv.ParseUint(c.next("cflow.packets"), 10, 64)
		got.Flows++
		got.Bytes += octets
		got.Packets += packets
	}
	return got
}

// checkSFlowSamples checks the flow samples of one sFlow frame, including the sampled frame
// headers tshark dissects inside them, and returns the totals tshark decoded.
func checkSFlowSamples(c *frameCursor, d capture) Counters {
	c.t.Helper()
	var got Counters
	for _, f := range d.flows {
		c.uint("sflow.flow_sample.sequence_number", uint64(f.SampleSequence))
		c.uint("sflow.flow_sample.index", uint64(f.InIf))
		c.uint("sflow.flow_sample.sampling_rate", uint64(f.SamplingRate))
		c.uint("sflow.flow_sample.sample_pool", uint64(f.SamplePool))
		c.uint("sflow.flow_sample.dropped_packets", uint64(f.SampleDrops))
		c.uint("sflow.flow_sample.input_interface", uint64(f.InIf))
		c.uint("sflow.flow_sample.output_interface_value", uint64(f.OutIf))
		c.uint("sflow_245.header_protocol", 1)
		c.uint("sflow_245.header.payload_stripped", ethernetFCS)
		c.uint("sflow_245.header.sampled_header_length", uint64(min(f.Bytes-ethernetFCS, sflowMaxHeader)))
		c.uint("sflow_245.vlan.in", uint64(f.SrcVLAN))
		c.uint("sflow_245.vlan.out", uint64(f.DstVLAN))
		if f.NextHop.Is4() {
			c.addr("sflow_245.nexthop", f.NextHop) // extended router
			c.addr("sflow_245.nexthop", f.NextHop) // extended gateway
		} else {
			c.addr("sflow_245.nexthop.v6", f.NextHop)
			c.addr("sflow_245.nexthop.v6", f.NextHop)
		}
		c.uint("sflow_245.nexthop.src_mask", uint64(f.SrcMask))
		c.uint("sflow_245.nexthop.dst_mask", uint64(f.DstMask))
		c.uint("sflow_245.as", routerAS)
		c.uint("sflow_245.srcAS", uint64(f.SrcAS))
		if f.DstAS != 0 {
			c.uint("sflow_245.dstASentries", 1)
			c.uint("sflow_245.dstAS", uint64(f.DstAS))
		} else {
			c.uint("sflow_245.dstASentries", 0)
		}

		// The sampled frame: Ethernet with an 802.1Q tag, then IP, then the transport header.
		c.str("eth.src", macString(f.SrcMAC))
		c.str("eth.dst", macString(f.DstMAC))
		c.uint("vlan.id", uint64(f.SrcVLAN))
		ipLength := f.Bytes - ethernetTaggedHeader - ethernetFCS
		if f.SrcAddr.Is4() {
			c.addr("ip.src", f.SrcAddr)
			c.addr("ip.dst", f.DstAddr)
			c.uint("ip.len", ipLength)
			c.uint("ip.ttl", uint64(f.TTL))
			c.uint("ip.dsfield", uint64(f.TOS))
			c.uint("ip.proto", uint64(f.IPProto))
			c.uint("ip.checksum.status", 1) // good
		} else {
			c.addr("ipv6.src", f.SrcAddr)
			c.addr("ipv6.dst", f.DstAddr)
			c.uint("ipv6.plen", ipLength-40)
			c.uint("ipv6.nxt", uint64(f.IPProto))
			c.uint("ipv6.tclass", uint64(f.TOS))
			c.uint("ipv6.flow", uint64(f.FlowLabel))
			c.uint("ipv6.hlim", uint64(f.TTL))
		}
		switch f.IPProto {
		case ipProtoTCP:
			c.uint("tcp.srcport", uint64(f.SrcPort))
			c.uint("tcp.dstport", uint64(f.DstPort))
			c.uint("tcp.flags", uint64(f.TCPFlags))
		case ipProtoUDP:
			c.uint("udp.srcport", uint64(f.SrcPort))
			c.uint("udp.dstport", uint64(f.DstPort))
			c.uint("udp.length", ipLength-ipHeaderLength(f))
		case ipProtoICMP:
			c.uint("icmp.type", uint64(f.ICMPType))
			c.uint("icmp.code", uint64(f.ICMPCode))
		case ipProtoICMPv6:
			c.uint("icmpv6.type", uint64(f.ICMPType))
			c.uint("icmpv6.code", uint64(f.ICMPCode))
		}
		if icmpIsError(f.IPProto, f.ICMPType) { // the quoted UDP probe, from DstAddr to SrcAddr
			if f.SrcAddr.Is4() {
				c.addr("ip.src", f.DstAddr)
				c.addr("ip.dst", f.SrcAddr)
				c.uint("ip.len", 28)
				c.uint("ip.ttl", 1)
				c.uint("ip.dsfield", 0)
				c.uint("ip.proto", ipProtoUDP)
				c.uint("ip.checksum.status", 1)
			} else {
				c.addr("ipv6.src", f.DstAddr)
				c.addr("ipv6.dst", f.SrcAddr)
				c.uint("ipv6.plen", 8)
				c.uint("ipv6.nxt", ipProtoUDP)
				c.uint("ipv6.tclass", 0)
				c.uint("ipv6.flow", 0)
				c.uint("ipv6.hlim", 1)
			}
			c.next("udp.srcport")
			c.uint("udp.dstport", 33434)
			c.uint("udp.length", 8)
		}
		frameLength, _ := strconv.ParseUint(c.next("sflow_245.header.frame_length"), 10, 64)
		got.Flows++
		got.Bytes += frameLength
		got.Packets++ // one sampled packet per sample
	}
	return got
}

func ipHeaderLength(f Flow) uint64 {
	if f.SrcAddr.Is4() {
		return 20
	}
	return 40
}

func macString(m [6]byte) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}
