package demo

import (
	"net/netip"
	"time"
)

// Protocol names, as accepted by Config.Protocols and reported in Stats and Datagram.
const (
	NetFlow5 = "netflow5"
	NetFlow9 = "netflow9"
	IPFIX    = "ipfix"
	SFlow5   = "sflow5"
)

// protocolNames lists every supported protocol in a fixed order: the order in which the
// generator interleaves exporters, and the order of Stats' per-protocol counters.
var protocolNames = [...]string{NetFlow9, IPFIX, SFlow5, NetFlow5}

// IP protocol numbers used by the traffic model.
const (
	ipProtoICMP   = 1
	ipProtoTCP    = 6
	ipProtoUDP    = 17
	ipProtoICMPv6 = 58
)

// Flow is one flow record exactly as it was encoded: a NetFlow/IPFIX data record, or one sFlow
// flow sample. Addresses are IPv4 or IPv6 (never 4-in-6); times have millisecond precision.
type Flow struct {
	Protocol string     // NetFlow5, NetFlow9, IPFIX or SFlow5
	Exporter netip.Addr // the simulated exporter's address (sFlow agent address, bound source when Config.BindSources)
	// ObservationDomain is the NetFlow v9 source ID, the IPFIX observation domain ID, the
	// NetFlow v5 engine ID or the sFlow sub-agent ID of the exporter.
	ObservationDomain uint32

	SrcAddr, DstAddr netip.Addr
	NextHop          netip.Addr
	SrcMask, DstMask uint8
	SrcAS, DstAS     uint32 // NetFlow v5 carries 16 bits: larger ASNs are encoded as AS_TRANS (23456)
	SrcPort, DstPort uint16 // ICMP: SrcPort 0, DstPort type<<8|code (the convention of NetFlow exporters)
	IPProto          uint8
	ICMPType         uint8
	ICMPCode         uint8
	TCPFlags         uint8
	TOS              uint8
	InIf, OutIf      uint32
	Bytes, Packets   uint64 // sFlow: the sampled frame's length and 1
	// Start and End are the flow's first and last packet. sFlow carries no flow times: both are
	// the datagram's export time.
	Start, End   time.Time
	SamplingRate uint32 // 1 in N packets; 1 means unsampled

	// Fields below are encoded by sFlow only (in the sampled packet header and the extended
	// switch record).
	SrcMAC, DstMAC   [6]byte
	SrcVLAN, DstVLAN uint16
	TTL              uint8
	FlowLabel        uint32 // IPv6 only
	SampleSequence   uint32 // flow_sample sequence_number, per source ID
	SamplePool       uint32 // flow_sample sample_pool
	SampleDrops      uint32 // flow_sample drops
}

// Counters counts what was sent for one protocol, or in total.
type Counters struct {
	Datagrams    uint64 `json:"datagrams"`
	Flows        uint64 `json:"flows"`         // data records (NetFlow, IPFIX) or flow samples (sFlow)
	Bytes        uint64 `json:"bytes"`         // sum of the encoded flows' byte counters, unscaled by sampling
	Packets      uint64 `json:"packets"`       // sum of the encoded flows' packet counters, unscaled by sampling
	Templates    uint64 `json:"templates"`     // template records sent, options templates included (NetFlow v9, IPFIX)
	PayloadBytes uint64 `json:"payload_bytes"` // UDP payload bytes sent
	// CounterSamples are the sFlow counter samples sent (Config.CounterInterval), one per
	// interface and poll.
	CounterSamples uint64 `json:"counter_samples"`
	// InterfaceNames are the options data records naming an interface sent (NetFlow v9, IPFIX;
	// Config.InterfaceNames).
	InterfaceNames uint64 `json:"interface_names"`
}

func (c *Counters) add(o Counters) {
	c.Datagrams += o.Datagrams
	c.Flows += o.Flows
	c.Bytes += o.Bytes
	c.Packets += o.Packets
	c.Templates += o.Templates
	c.PayloadBytes += o.PayloadBytes
	c.CounterSamples += o.CounterSamples
	c.InterfaceNames += o.InterfaceNames
}

// Stats is what was sent: totals in the embedded Counters, and the same counters per protocol.
type Stats struct {
	Counters
	NetFlow5 Counters `json:"netflow5"`
	NetFlow9 Counters `json:"netflow9"`
	IPFIX    Counters `json:"ipfix"`
	SFlow5   Counters `json:"sflow5"`
}

// Protocol returns the counters of the named protocol (see the protocol name constants).
func (s Stats) Protocol(name string) (Counters, bool) {
	switch name {
	case NetFlow5:
		return s.NetFlow5, true
	case NetFlow9:
		return s.NetFlow9, true
	case IPFIX:
		return s.IPFIX, true
	case SFlow5:
		return s.SFlow5, true
	}
	return Counters{}, false
}

// record adds one sent datagram to the totals and to its protocol's counters.
func (s *Stats) record(d *Datagram) { s.add(d.Protocol, d.counters()) }

// sentDatagram is what a datagram counts for, kept while it waits in a send batch.
type sentDatagram struct {
	protocol string
	counters Counters
}

// add adds the counters of one protocol's datagrams to the totals and to the protocol's.
func (s *Stats) add(protocol string, c Counters) {
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

// counters is what d counts for: one datagram, its flows and their counters.
func (d *Datagram) counters() Counters {
	c := Counters{Datagrams: 1, Flows: uint64(len(d.Flows)), Templates: uint64(d.Templates),
		PayloadBytes: uint64(len(d.Payload)), CounterSamples: uint64(len(d.Counters)),
		InterfaceNames: uint64(len(d.Interfaces))}
	for i := range d.Flows {
		c.Bytes += d.Flows[i].Bytes
		c.Packets += d.Flows[i].Packets
	}
	return c
}

// Datagram is one encoded datagram and the flows it carries, in encoding order. It is only
// valid during the callback that receives it: the generator reuses its buffers.
type Datagram struct {
	Protocol  string
	Exporter  int        // index of the simulated exporter, see Generator.Exporters
	Source    netip.Addr // the exporter's address
	Payload   []byte
	Flows     []Flow
	Templates int // template records in the datagram, sent ahead of the data
	// Counters are the sFlow counter samples of a counter datagram, Interfaces the interface
	// names of a NetFlow v9/IPFIX options datagram; such datagrams carry no flows.
	Counters   []InterfaceCounters
	Interfaces []InterfaceName
}
