package netflow

import (
	"encoding/binary"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"

	"sluice/internal/pcap"
	"sluice/internal/testenv"
	"sluice/internal/tshark"
	"sluice/pipeline/record"
)

// The test's own NSEL encoder, written from Cisco's "ASA NetFlow
// Implementation Guide" (templates and fields of NSEL events), not from
// the decoder: an ASA exports NetFlow v9 with one template per event kind;
// flow-update events use the flow-teardown templates.

// nselField is a template field: its element and length.
type nselField struct{ ie, length uint16 }

// nselTeardown is the IPv4 flow-teardown (and flow-update) template:
// NF_F_CONN_ID, source and destination address, port and interface,
// protocol, ICMP type and code, the translated addresses and ports, the
// event and extended event, the event and flow-create times, the
// forward/reverse byte and packet counts, the ingress and egress ACL IDs.
var nselTeardown = []nselField{
	{148, 4}, {8, 4}, {7, 2}, {10, 2}, {12, 4}, {11, 2}, {14, 2}, {4, 1}, {176, 1}, {177, 1},
	{225, 4}, {226, 4}, {227, 2}, {228, 2}, {233, 1}, {33002, 2}, {323, 8}, {152, 8},
	{231, 4}, {232, 4}, {298, 4}, {299, 4}, {33000, 12}, {33001, 12},
}

// nselCreate is the IPv4 flow-create (and flow-denied) template: no counts.
var nselCreate = []nselField{
	{148, 4}, {8, 4}, {7, 2}, {10, 2}, {12, 4}, {11, 2}, {14, 2}, {4, 1}, {176, 1}, {177, 1},
	{225, 4}, {226, 4}, {227, 2}, {228, 2}, {233, 1}, {33002, 2}, {323, 8}, {33000, 12}, {33001, 12},
}

const (
	nselTeardownID = 263
	nselCreateID   = 260
)

// nselEvent is one NSEL record: a connection's event and its counts.
type nselEvent struct {
	conn                       uint32
	src, dst                   [4]byte
	srcPort, dstPort           uint16
	event                      uint8
	extEvent                   uint16
	fwdBytes, revBytes         uint32
	fwdPackets, revPackets     uint32
	withCounts                 bool // the teardown/update template; else the create one
	ingressACL                 [3]uint32
	xlateSrc                   [4]byte
	xlateSrcPort, xlateDstPort uint16
}

// encode appends the record's values in its template's order.
func (e nselEvent) encode(b []byte) []byte {
	fields := nselCreate
	if e.withCounts {
		fields = nselTeardown
	}
	be16, be32 := binary.BigEndian.AppendUint16, binary.BigEndian.AppendUint32
	for _, f := range fields {
		switch f.ie {
		case 148:
			b = be32(b, e.conn)
		case 8:
			b = append(b, e.src[:]...)
		case 12:
			b = append(b, e.dst[:]...)
		case 7:
			b = be16(b, e.srcPort)
		case 11:
			b = be16(b, e.dstPort)
		case 10:
			b = be16(b, 3)
		case 14:
			b = be16(b, 2)
		case 4:
			b = append(b, 6)
		case 225:
			b = append(b, e.xlateSrc[:]...)
		case 226:
			b = append(b, e.dst[:]...)
		case 227:
			b = be16(b, e.xlateSrcPort)
		case 228:
			b = be16(b, e.xlateDstPort)
		case 233:
			b = append(b, e.event)
		case 33002:
			b = be16(b, e.extEvent)
		case 323, 152:
			b = binary.BigEndian.AppendUint64(b, 1444384069000)
		case 231:
			b = be32(b, e.fwdBytes)
		case 232:
			b = be32(b, e.revBytes)
		case 298:
			b = be32(b, e.fwdPackets)
		case 299:
			b = be32(b, e.revPackets)
		case 33000:
			b = be32(be32(be32(b, e.ingressACL[0]), e.ingressACL[1]), e.ingressACL[2])
		default:
			b = append(b, make([]byte, f.length)...)
		}
	}
	return b
}

// nselTemplates is the v9 template set of both templates.
func nselTemplates() []byte {
	var body []byte
	for _, t := range []struct {
		id     uint16
		fields []nselField
	}{{nselCreateID, nselCreate}, {nselTeardownID, nselTeardown}} {
		body = binary.BigEndian.AppendUint16(body, t.id)
		body = binary.BigEndian.AppendUint16(body, uint16(len(t.fields)))
		for _, f := range t.fields {
			body = binary.BigEndian.AppendUint16(body, f.ie)
			body = binary.BigEndian.AppendUint16(body, f.length)
		}
	}
	return set(0, body...)
}

// nselDatagram is a v9 datagram of the templates (when withTemplates) and
// one data set per event, as an ASA sends events as they happen.
func nselDatagram(withTemplates bool, events ...nselEvent) []byte {
	var sets [][]byte
	if withTemplates {
		sets = append(sets, nselTemplates())
	}
	for _, e := range events {
		id := uint16(nselCreateID)
		if e.withCounts {
			id = nselTeardownID
		}
		sets = append(sets, set(id, e.encode(nil)...))
	}
	return v9Message(uint16(len(sets)), sets...)
}

// nselSequence is an ASA's datagrams for three connections between A and
// B, the events in separate datagrams as they happen, the template first:
//
//   - connection 1, long: created, two updates at the timer, an update at
//     teardown and the teardown with the whole flow's counts;
//   - connection 2, short: torn down before any update (and before its
//     delayed create was sent), so the teardown is its only record;
//   - connection 3: denied by the ingress ACL (extended event 1001).
func nselSequence() (datagrams [][]byte, a, b, nat [4]byte, acl [3]uint32) {
	a, b = [4]byte{192, 168, 14, 1}, [4]byte{198, 51, 100, 7}
	acl = [3]uint32{0x0f8e7ff3, 0xfc1a030f, 0}
	nat = [4]byte{203, 0, 113, 9}
	conn1 := nselEvent{conn: 1, src: a, dst: b, srcPort: 40000, dstPort: 443, ingressACL: acl, xlateSrc: nat, xlateSrcPort: 1024, xlateDstPort: 443}
	create, upd1, upd2, updEnd, teardown := conn1, conn1, conn1, conn1, conn1
	create.event = 1
	upd1.event, upd1.withCounts, upd1.fwdBytes, upd1.revBytes, upd1.fwdPackets, upd1.revPackets = 5, true, 1000, 5000, 10, 8
	upd2.event, upd2.withCounts, upd2.fwdBytes, upd2.revBytes, upd2.fwdPackets, upd2.revPackets = 5, true, 200, 300, 2, 3
	updEnd.event, updEnd.withCounts, updEnd.fwdBytes, updEnd.revBytes, updEnd.fwdPackets, updEnd.revPackets = 5, true, 50, 0, 1, 0
	teardown.event, teardown.extEvent, teardown.withCounts = 2, 2020, true
	teardown.fwdBytes, teardown.revBytes, teardown.fwdPackets, teardown.revPackets = 1250, 5300, 13, 11
	short := nselEvent{conn: 2, src: b, dst: a, srcPort: 53, dstPort: 5353, event: 2, extEvent: 2025, withCounts: true,
		fwdBytes: 100, revBytes: 60, fwdPackets: 1, revPackets: 1}
	denied := nselEvent{conn: 3, src: b, dst: a, srcPort: 6000, dstPort: 22, event: 3, extEvent: 1001, ingressACL: [3]uint32{7, 8, 9}}
	datagrams = [][]byte{
		nselDatagram(true, create), nselDatagram(false, upd1), nselDatagram(false, upd2),
		nselDatagram(false, updEnd, teardown, short), nselDatagram(false, denied),
	}
	return datagrams, a, b, nat, acl
}

// TestNSELEventsCountedOnce: an ASA's create, update and teardown events
// for one connection store its bytes and packets exactly once, in each
// direction, whatever the events in between (README, "Cisco ASA (NSEL)"),
// on nselSequence's connections.
func TestNSELEventsCountedOnce(t *testing.T) {
	datagrams, a, b, nat, acl := nselSequence()
	d := New(Config{})
	var flows []record.Flow
	emit := func(f *record.Flow) { flows = append(flows, *f) }
	for i, msg := range datagrams {
		if _, err := d.Decode(testExporter, 1, msg, emit); err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
	}

	type key struct {
		src, dst record.Addr
	}
	type sums struct{ bytes, packets uint64 }
	got := map[key]sums{}
	events := map[uint8]int{}
	for _, f := range flows {
		k := key{f.SrcAddr, f.DstAddr}
		s := got[k]
		s.bytes += f.Bytes
		s.packets += f.Packets
		got[k] = s
		events[f.FirewallEvent]++
	}
	A, B := record.AddrFrom4(a), record.AddrFrom4(b)
	// Connection 1 (A→B forward, B→A reverse) plus connection 2 (B→A
	// forward, A→B reverse): each direction's bytes once.
	want := map[key]sums{
		{A, B}: {1250 + 60, 13 + 1},
		{B, A}: {5300 + 100, 11 + 1},
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s → %s: %+v, want %+v", k.src, k.dst, got[k], w)
		}
	}
	// create, 3 updates, teardown forward and reverse, short forward and
	// reverse, denied.
	if len(flows) != 9 || events[1] != 1 || events[5] != 3 || events[2] != 4 || events[3] != 1 {
		t.Errorf("%d records, events %v; want 9: 1 create, 3 updates, 4 teardown (2 forward, 2 reverse), 1 denied", len(flows), events)
	}

	// The teardown's forward and reverse records carry the event fields,
	// the ACL and the translation, swapped for the reverse one.
	var fwd, rev *record.Flow
	for i := range flows {
		if f := &flows[i]; f.FirewallEvent == 2 && f.Bytes == 1250 {
			fwd = f
		} else if f.FirewallEvent == 2 && f.Bytes == 5300 {
			rev = f
		}
	}
	if fwd == nil || rev == nil {
		t.Fatalf("no teardown forward and reverse records of connection 1 in %+v", flows)
	}
	if fwd.FirewallExtEvent != 2020 || [3]uint32{fwd.IngressACL, fwd.IngressACE, fwd.IngressACEExt} != acl || fwd.SrcAddrNAT != record.AddrFrom4(nat) || fwd.SrcPortNAT != 1024 ||
		fwd.SrcPort != 40000 || fwd.DstPort != 443 || fwd.InIfIndex != 3 || fwd.OutIfIndex != 2 || fwd.Packets != 13 {
		t.Errorf("teardown forward record: %+v", fwd)
	}
	if rev.SrcAddr != B || rev.DstAddr != A || rev.SrcPort != 443 || rev.DstPort != 40000 || rev.InIfIndex != 2 || rev.OutIfIndex != 3 ||
		rev.DstAddrNAT != record.AddrFrom4(nat) || rev.DstPortNAT != 1024 || rev.Packets != 11 || rev.FirewallEvent != 2 {
		t.Errorf("teardown reverse record: %+v", rev)
	}
	for _, f := range flows {
		if f.FirewallEvent == 3 && (f.FirewallExtEvent != 1001 || [3]uint32{f.IngressACL, f.IngressACE, f.IngressACEExt} != [3]uint32{7, 8, 9} || f.Bytes != 0) {
			t.Errorf("denied record: %+v", f)
		}
	}
}

// TestNSELResponderReverseRecord: responderOctets and responderPackets
// (IE 232, 299) make the reverse record of a teardown, as RFC 5103's
// reverse counters do; a responder that sent nothing makes none.
func TestNSELResponderReverseRecord(t *testing.T) {
	for _, tc := range []struct {
		rev     [2]uint32
		records int
	}{{[2]uint32{700, 7}, 2}, {[2]uint32{0, 0}, 1}} {
		msg := singleRecord(10, tf{8, []byte{192, 0, 2, 1}}, tf{12, []byte{192, 0, 2, 2}}, tf{233, []byte{2}},
			tf{231, u32(100)}, tf{298, u32(1)}, tf{232, u32(tc.rev[0])}, tf{299, u32(tc.rev[1])})
		var flows []record.Flow
		if _, err := New(Config{}).Decode(testExporter, 1, msg, func(f *record.Flow) { flows = append(flows, *f) }); err != nil {
			t.Fatal(err)
		}
		if len(flows) != tc.records {
			t.Fatalf("responder %v: %d records, want %d", tc.rev, len(flows), tc.records)
		}
		if flows[0].Bytes != 100 || flows[0].Packets != 1 {
			t.Errorf("forward record: %+v", flows[0])
		}
		if tc.records == 2 && (flows[1].Bytes != 700 || flows[1].Packets != 7 || flows[1].SrcAddr != addr4("192.0.2.2")) {
			t.Errorf("reverse record: %+v", flows[1])
		}
	}
}

// TestNSELMatchesTshark: nselSequence, written to a capture, decodes in
// tshark to what sluice stores, field by field (netflowChecks, with the
// counter and NSEL event rules applied to tshark's values in counted and
// expandBiflow): the encoder's element numbers and layouts are those tshark
// knows, and the decoder reads them as tshark does.
func TestNSELMatchesTshark(t *testing.T) {
	datagrams, _, _, _, _ := nselSequence()
	path := filepath.Join(t.TempDir(), "nsel.pcap")
	src, dst := netip.MustParseAddrPort("192.0.2.44:40021"), netip.MustParseAddrPort("192.0.2.254:2055")
	if err := pcap.WriteUDPFile(path, src, dst, datagrams); err != nil {
		t.Fatal(err)
	}
	written, _, err := pcap.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	records, frames, err := tshark.Decode(testenv.Tshark(t), path)
	if err != nil {
		t.Fatal(err)
	}
	var expanded []tshark.Record
	for _, r := range records {
		expanded = append(expanded, expandBiflow(t, r)...)
	}
	c := tshark.NewComparison(t, "", "record", nil)
	checks := make([]tshark.Check, len(netflowChecks))
	ctx := &tsharkContext{samplers: map[string]uint64{}}
	for i, nc := range netflowChecks {
		checks[i] = tshark.Check{Field: nc.field, Want: func(r *tshark.Record) (string, bool) { return nc.want(r, ctx) }, Got: nc.got}
	}
	d := New(Config{})
	c.Compare(&tshark.Capture{Name: "nsel.pcap", Datagrams: written, Records: expanded, Frames: frames}, checks, func(dg pcap.Datagram, emit func(*record.Flow)) {
		d.Decode(record.AddrFromSlice(dg.Src.AsSlice()), dg.Timestamp, dg.Payload, emit)
	})
	c.Finish()
	// Bytes and Packets: the 7 records with counts (3 updates, 2
	// teardowns' forward and reverse records); create and denied have none.
	if c.Records != 9 || c.Compared["Bytes"] != 7 || c.Compared["Packets"] != 7 || c.Compared["FirewallEvent"] != 9 || c.Compared["IngressACL"] != 9 {
		t.Errorf("compared %d records, values per field %v; want 9 records, 7 with counts, all with events and ACLs", c.Records, c.Compared)
	}
}

// TestNSELEventKeepsDeltas: the NSEL event rule zeroes the total and
// initiator counts of events other than teardown, never a delta: IE 1/2,
// nor the post (OUT) deltas 23/24 the one counter rule picks when the
// template has no IN counter.
func TestNSELEventKeepsDeltas(t *testing.T) {
	addrs := []tf{{8, []byte{192, 0, 2, 1}}, {12, []byte{192, 0, 2, 2}}}
	for _, tc := range []struct {
		name           string
		counts         []tf
		bytes, packets uint64
	}{
		{"IN delta", []tf{{1, u32(300)}, {2, u32(3)}}, 300, 3},
		{"OUT delta only", []tf{{23, u32(700)}, {24, u32(7)}}, 700, 7},
		{"total", []tf{{85, u32(5000)}, {86, u32(50)}}, 0, 0},
		{"initiator", []tf{{231, u32(5000)}, {298, u32(50)}}, 0, 0},
		{"total beside OUT: the total", []tf{{85, u32(5000)}, {86, u32(50)}, {23, u32(700)}, {24, u32(7)}}, 0, 0},
	} {
		for _, version := range []int{9, 10} {
			fields := append(append(slices.Clone(addrs), tc.counts...), tf{233, []byte{5}})
			got, ok := decodeOne(t, singleRecord(version, fields...))
			if !ok {
				t.Fatalf("%s (v%d): no record", tc.name, version)
			}
			if got.Bytes != tc.bytes || got.Packets != tc.packets {
				t.Errorf("%s, flow-update (v%d): %d bytes, %d packets; want %d, %d", tc.name, version, got.Bytes, got.Packets, tc.bytes, tc.packets)
			}
		}
	}
}
