package demo

import (
	"encoding/binary"
	"net/netip"
	"os"
	"testing"
	"time"
)

// capture is a copy of one generated datagram, kept after the generator's callback returns.
type capture struct {
	protocol  string
	source    netip.Addr
	exporter  int
	payload   []byte
	flows     []Flow
	templates int
	export    time.Time // the header's export time
	counters  []InterfaceCounters
	names     []InterfaceName
}

// generate runs a generator and keeps copies of its datagrams.
func generate(t testing.TB, cfg Config, start time.Time, steps []int, step time.Duration) ([]capture, *Generator) {
	t.Helper()
	g, err := NewGenerator(cfg, start)
	if err != nil {
		t.Fatal(err)
	}
	var out []capture
	now := start
	keep := func(d *Datagram) error {
		out = append(out, capture{
			protocol:  d.Protocol,
			source:    d.Source,
			exporter:  d.Exporter,
			payload:   append([]byte(nil), d.Payload...),
			flows:     append([]Flow(nil), d.Flows...),
			templates: d.Templates,
			export:    now.Truncate(time.Second),
			counters:  append([]InterfaceCounters(nil), d.Counters...),
			names:     append([]InterfaceName(nil), d.Interfaces...),
		})
		return nil
	}
	for _, n := range steps {
		if err := g.Generate(now, n, keep); err != nil {
			t.Fatal(err)
		}
		if err := g.Flush(now, keep); err != nil {
			t.Fatal(err)
		}
		now = now.Add(step)
	}
	return out, g
}

// Collector ports the pcap sends to, the defaults tshark dissects as cflow and sflow.
const (
	pcapNetFlowPort = 2055
	pcapSFlowPort   = 6343
)

// writePCAP writes datagrams as a classic pcap file (Ethernet link type) of UDP/IPv4 packets
// from each exporter's address (source port 40000 + exporter index) to 127.0.0.1.
func writePCAP(t testing.TB, path string, datagrams []capture, at time.Time) {
	t.Helper()
	var b []byte
	// Global header: magic, version 2.4, zone, sigfigs, snaplen, LINKTYPE_ETHERNET.
	b = binary.LittleEndian.AppendUint32(b, 0xa1b2c3d4)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 4)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 65535)
	b = binary.LittleEndian.AppendUint32(b, 1)
	for i, d := range datagrams {
		port := uint16(pcapNetFlowPort)
		if d.protocol == SFlow5 {
			port = pcapSFlowPort
		}
		frame := udpFrame(d.source, uint16(40000+d.exporter), netip.MustParseAddr("127.0.0.1"), port, uint16(i), d.payload)
		ts := at.Add(time.Duration(i) * time.Millisecond)
		b = binary.LittleEndian.AppendUint32(b, uint32(ts.Unix()))
		b = binary.LittleEndian.AppendUint32(b, uint32(ts.Nanosecond()/1000))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(frame)))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(frame)))
		b = append(b, frame...)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// udpFrame builds Ethernet + IPv4 + UDP around payload.
func udpFrame(src netip.Addr, srcPort uint16, dst netip.Addr, dstPort, id uint16, payload []byte) []byte {
	var b []byte
	b = append(b, 0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00)
	ip := len(b)
	b = append(b, 0x45, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(20+8+len(payload)))
	b = binary.BigEndian.AppendUint16(b, id)
	b = binary.BigEndian.AppendUint16(b, 0x4000)
	b = append(b, 64, 17, 0, 0)
	s, d := src.As4(), dst.As4()
	b = append(b, s[:]...)
	b = append(b, d[:]...)
	binary.BigEndian.PutUint16(b[ip+10:], ipv4Checksum(b[ip:ip+20]))
	b = binary.BigEndian.AppendUint16(b, srcPort)
	b = binary.BigEndian.AppendUint16(b, dstPort)
	b = binary.BigEndian.AppendUint16(b, uint16(8+len(payload)))
	b = binary.BigEndian.AppendUint16(b, 0)
	return append(b, payload...)
}
