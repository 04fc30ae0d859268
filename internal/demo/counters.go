package demo

import (
	"encoding/binary"
	"time"
)

// sFlow version 5 counter samples ("Counter Samples" and "Generic Interface Counters" of the
// sFlow Version 5 specification, and its Ethernet counters from RFC 2358's EtherLike-MIB).
const (
	sflowCounterSample    = 2 // enterprise 0, format 2: counters_sample
	sflowGenericCounters  = 1 // counter record: if_counters
	sflowEthernetCounters = 2 // counter record: ethernet_counters
	sflowGenericLength    = 88
	sflowEthernetLength   = 52
	// sflowCounterSampleLength is one counters_sample with both records: sample type and
	// length, sequence number, source ID, record count, then each record's format, length and
	// body.
	sflowCounterSampleLength = 8 + 12 + 8 + sflowGenericLength + 8 + sflowEthernetLength

	ifTypeEthernet = 6 // IANAifType ethernetCsmacd
	ifFullDuplex   = 1 // ifDirection
)

// InterfaceCounters is one counter sample of one interface, as an sFlow agent polls it: the
// generic interface counters (the IF-MIB's) and the Ethernet counters (the EtherLike-MIB's).
// Counters are the interface's running totals since the agent booted; 32-bit ones wrap.
type InterfaceCounters struct {
	// SampleSequence numbers the samples of this source ID (the interface).
	SampleSequence uint32

	IfIndex         uint32
	IfType          uint32
	IfSpeed         uint64 // bits per second
	IfDirection     uint32 // 1 full-duplex
	AdminUp, OperUp bool   // ifStatus bits 0 and 1

	InOctets                                         uint64
	InUcastPkts, InMulticastPkts, InBroadcastPkts    uint32
	InDiscards, InErrors, InUnknownProtos            uint32
	OutOctets                                        uint64
	OutUcastPkts, OutMulticastPkts, OutBroadcastPkts uint32
	OutDiscards, OutErrors                           uint32
	PromiscuousMode                                  uint32
	// The Ethernet errors the demo counts; its other Ethernet counters (collisions, which a
	// full-duplex link never has, and rarer errors) are sent as zero.
	Dot3AlignmentErrors, Dot3FCSErrors, Dot3SymbolErrors uint32
}

// AppendSFlow5Counters appends an sFlow v5 datagram to dst holding one counters_sample per
// element of counters, each with a generic interface counters record and an Ethernet counters
// record. The source ID is the interface's ifIndex (type 0).
func AppendSFlow5Counters(dst []byte, h SFlow5Header, counters []InterfaceCounters) []byte {
	dst = appendSFlowHeader(dst, &h, len(counters))
	for i := range counters {
		dst = appendCounterSample(dst, &counters[i])
	}
	return dst
}

func appendCounterSample(dst []byte, c *InterfaceCounters) []byte {
	be := binary.BigEndian
	dst = be.AppendUint32(dst, sflowCounterSample)
	dst = be.AppendUint32(dst, sflowCounterSampleLength-8)
	dst = be.AppendUint32(dst, c.SampleSequence)
	dst = be.AppendUint32(dst, c.IfIndex&0x00ffffff) // source ID: type 0 (ifIndex)
	dst = be.AppendUint32(dst, 2)                    // counter records below

	dst = be.AppendUint32(dst, sflowGenericCounters)
	dst = be.AppendUint32(dst, sflowGenericLength)
	dst = be.AppendUint32(dst, c.IfIndex)
	dst = be.AppendUint32(dst, c.IfType)
	dst = be.AppendUint64(dst, c.IfSpeed)
	dst = be.AppendUint32(dst, c.IfDirection)
	var status uint32
	if c.AdminUp {
		status |= 1
	}
	if c.OperUp {
		status |= 2
	}
	dst = be.AppendUint32(dst, status)
	dst = be.AppendUint64(dst, c.InOctets)
	for _, v := range [...]uint32{c.InUcastPkts, c.InMulticastPkts, c.InBroadcastPkts, c.InDiscards, c.InErrors, c.InUnknownProtos} {
		dst = be.AppendUint32(dst, v)
	}
	dst = be.AppendUint64(dst, c.OutOctets)
	for _, v := range [...]uint32{c.OutUcastPkts, c.OutMulticastPkts, c.OutBroadcastPkts, c.OutDiscards, c.OutErrors, c.PromiscuousMode} {
		dst = be.AppendUint32(dst, v)
	}

	dst = be.AppendUint32(dst, sflowEthernetCounters)
	dst = be.AppendUint32(dst, sflowEthernetLength)
	// dot3StatsAlignmentErrors, FCSErrors, SingleCollisionFrames, MultipleCollisionFrames,
	// SQETestErrors, DeferredTransmissions, LateCollisions, ExcessiveCollisions,
	// InternalMacTransmitErrors, CarrierSenseErrors, FrameTooLongs, InternalMacReceiveErrors,
	// SymbolErrors.
	for _, v := range [...]uint32{c.Dot3AlignmentErrors, c.Dot3FCSErrors, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, c.Dot3SymbolErrors} {
		dst = be.AppendUint32(dst, v)
	}
	return dst
}

// ifaceCounters is what an sFlow agent's interface has counted since boot.
type ifaceCounters struct {
	inOctets, outOctets uint64
	inPkts, outPkts     uint32
	sequence            uint32 // counter samples sent
}

// bootCounters are an interface's counters at the generator's start: its traffic since boot,
// at a steady utilisation (10% for uplinks, 2% for access ports) of 700-byte packets, and a
// few errors, so that totals look like a long-running device's.
func bootCounters(ifc *iface, uptime time.Duration) ifaceCounters {
	percent := uint64(2)
	if ifc.uplink {
		percent = 10
	}
	in := uint64(uptime/time.Second) * (ifc.speed / 8) * percent / 100
	out := in / 4 * 3
	return ifaceCounters{inOctets: in, outOctets: out, inPkts: uint32(in / 700), outPkts: uint32(out / 700)}
}

// countSampled adds a sampled flow's packets, as the agent's interface counters count them
// (every packet, sampled or not), to its input and output interfaces.
func (e *exporter) countSampled(f *Flow) {
	in, out := &e.counters[int(f.InIf)-int(e.ifaces[0].index)], &e.counters[int(f.OutIf)-int(e.ifaces[0].index)]
	octets := f.Bytes * uint64(f.SamplingRate)
	in.inOctets += octets
	in.inPkts += f.SamplingRate
	out.outOctets += octets
	out.outPkts += f.SamplingRate
}

// sample takes the counter sample of e's interface j.
func (e *exporter) sample(j int) InterfaceCounters {
	ifc, c := &e.ifaces[j], &e.counters[j]
	c.sequence++
	return InterfaceCounters{
		SampleSequence: c.sequence,
		IfIndex:        ifc.index, IfType: ifTypeEthernet, IfSpeed: ifc.speed, IfDirection: ifFullDuplex,
		AdminUp: true, OperUp: true,
		InOctets: c.inOctets, InUcastPkts: c.inPkts, InMulticastPkts: c.inPkts / 1000, InBroadcastPkts: c.inPkts / 5000,
		InDiscards: c.inPkts / 100000, InErrors: c.inPkts / 1000000,
		OutOctets: c.outOctets, OutUcastPkts: c.outPkts, OutMulticastPkts: c.outPkts / 1000, OutBroadcastPkts: c.outPkts / 5000,
		OutDiscards:   c.outPkts / 200000,
		Dot3FCSErrors: c.inPkts / 1000000, Dot3AlignmentErrors: c.inPkts / 5000000, Dot3SymbolErrors: c.inPkts / 2000000,
	}
}
