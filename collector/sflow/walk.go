package sflow

import (
	"encoding/binary"
	"errors"
	"fmt"

	"sluice/collector/decodeerr"
	"sluice/collector/wire"
	"sluice/pipeline/record"
)

// sFlow v5 structure numbers (sFlow.org, "sFlow Version 5", 2004), all in
// the standard enterprise (0).
const (
	sampleFlow            = 1
	sampleCounter         = 2
	sampleExpandedFlow    = 3
	sampleExpandedCounter = 4
	sampleDrop            = 5 // sFlow dropped-packet notification
	recordSampledHeader   = 1
	recordSampledEthernet = 2
	recordSampledIPv4     = 3
	recordSampledIPv6     = 4
	recordExtendedSwitch  = 1001
	recordExtendedRouter  = 1002
	recordExtendedGateway = 1003
	counterGeneric        = 1
	counterEthernet       = 2
	addressIPv4           = 1
	addressIPv6           = 2
)

// xdr reads big-endian 32-bit words and opaque data from an sFlow
// structure. Reading past the end sets short and yields zeros, so a parse
// checks once, at the end, whether its structure was whole.
type xdr struct {
	b     []byte
	short bool
}

func (r *xdr) u32() uint32 {
	if len(r.b) < 4 {
		r.short, r.b = true, nil
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *xdr) u64() uint64 { return uint64(r.u32())<<32 | uint64(r.u32()) }

// take returns the next n bytes (nil when fewer are left).
func (r *xdr) take(n uint32) []byte {
	if uint64(n) > uint64(len(r.b)) {
		r.short, r.b = true, nil
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// nextRecord reads a record's format and length and returns its body; ok
// is false, as in goflow2, when fewer bytes are left than the record
// header or the length it claims.
func (r *xdr) nextRecord() (format uint32, body xdr, ok bool) {
	if len(r.b) < 8 {
		return 0, xdr{}, false
	}
	format, length := r.u32(), r.u32()
	if uint64(length) > uint64(len(r.b)) {
		return 0, xdr{}, false
	}
	return format, xdr{b: r.take(length)}, true
}

// address reads an sFlow address: its type, then 4 or 16 bytes. Type 0
// (unknown) carries no bytes.
func (r *xdr) address() (record.Addr, error) {
	switch t := r.u32(); t {
	case 0:
		return record.Addr{}, nil
	case addressIPv4:
		return record.AddrFromSlice(r.take(4)), nil
	case addressIPv6:
		return record.AddrFromSlice(r.take(16)), nil
	default:
		return record.Addr{}, fmt.Errorf("address type %d", t)
	}
}

var errShortRecord = errors.New("structure shorter than its fields")

// recordError is the error of a structure inside a sample: truncated when
// it was cut short, malformed otherwise.
func recordError(what string, r *xdr, err error) error {
	if err == nil && r.short {
		return newError(decodeerr.Truncated, fmt.Errorf("%s: %w", what, errShortRecord))
	}
	if err != nil {
		return newError(decodeerr.Malformed, fmt.Errorf("%s: %w", what, err))
	}
	return nil
}

// walkDatagram decodes a datagram whose framing checkSamples accepted (or
// found cut short) and calls the sample handlers. A sample whose inside is
// malformed is skipped and reported; the samples after it are still read,
// since each has its own length.
func (d *Decoder) walkDatagram(s *scratch, exporter record.Addr, receivedNanos int64, payload []byte,
	out record.Appender, emitCounter func(*record.Counter), stats *Stats) error {
	r := xdr{b: payload[4:]} // the version, checked
	agent, err := r.address()
	if err != nil {
		return newError(decodeerr.Malformed, fmt.Errorf("agent: %w", err))
	}
	subAgent := r.u32()
	r.u32() // sequence number
	r.u32() // uptime
	count := r.u32()
	if r.short {
		return newError(decodeerr.Truncated, errors.New("header"))
	}
	if agent.IsZero() || agent == record.AddrFrom4([4]byte{}) {
		agent = exporter
	}
	sc := sampleContext{d: d, s: s, agent: agent, subAgent: subAgent, receivedNanos: receivedNanos,
		override: d.cfg.SamplingOverrides.Rate(agent), headers: headerParser{decap: d.cfg.Decapsulate}}
	var firstErr error
	for range count {
		if len(r.b) < 8 {
			break // checkSamples reported it
		}
		format, length := r.u32(), r.u32()
		body := r.take(length)
		if r.short {
			break
		}
		if format>>12 != 0 {
			continue // another enterprise's sample
		}
		sample := xdr{b: body}
		var err error
		switch format {
		case sampleFlow, sampleExpandedFlow:
			stats.FlowSamples++
			err = sc.flowSample(&sample, format == sampleExpandedFlow, out, stats)
		case sampleCounter, sampleExpandedCounter:
			stats.CounterSamples++
			if emitCounter == nil {
				break
			}
			c := &s.counter
			*c = record.Counter{TimeReceived: receivedNanos, ExporterAddress: agent, ObservationDomainID: subAgent}
			var ok bool
			if ok, err = readCounterSample(&sample, format == sampleExpandedCounter, c); ok {
				emitCounter(c)
				stats.Counters++
			}
		case sampleDrop:
			stats.DropSamples++
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// sampleContext is what every sample of one datagram shares.
type sampleContext struct {
	d             *Decoder
	s             *scratch
	agent         record.Addr
	subAgent      uint32
	receivedNanos int64
	override      uint64
	headers       headerParser
}

// flowSample reads a flow sample (compact or expanded) and emits its record.
// The record is decoded in place into out's next slot, committed only once
// whole. stats is not kept in sampleContext: out is an interface, which
// makes sc's pointers escape, and stats must not.
func (sc *sampleContext) flowSample(r *xdr, expanded bool, out record.Appender, stats *Stats) error {
	r.u32() // sequence number
	r.u32() // source ID (and its index, expanded)
	if expanded {
		r.u32()
	}
	rate := r.u32()
	r.u32() // sample pool
	r.u32() // drops
	var inFormat, inValue, outFormat, outValue uint32
	if expanded {
		inFormat, inValue, outFormat, outValue = r.u32(), r.u32(), r.u32(), r.u32()
	} else {
		in, out := r.u32(), r.u32()
		inFormat, inValue, outFormat, outValue = in>>30, in&0x3fffffff, out>>30, out&0x3fffffff
	}
	records := r.u32()
	if r.short {
		return recordError("flow sample", r, nil)
	}
	if uint64(records)*8 > uint64(len(r.b)) {
		return newError(decodeerr.Malformed, fmt.Errorf("flow sample claims %d records in %d bytes", records, len(r.b)))
	}
	f := sc.d.startFlow(out.Slot(), sc.agent, sc.subAgent, sc.receivedNanos, rate, sc.override, stats)
	setInterface(&f.InIfIndex, inFormat, inValue)
	setOutput(outFormat, outValue, f)
	if err := applyRecords(&sc.headers, r, records, f, stats); err != nil {
		return err
	}
	out.Commit()
	stats.Flows++
	return nil
}

// flowRecords accumulates what several records of one flow sample say,
// for the choices made once all are read.
type flowRecords struct {
	headerL3, ipRecordL3, ethL3, frameBytes uint64
	switchSeen                              bool
	ethSrcMAC, ethDstMAC                    uint64
	srcVlan, dstVlan                        uint16
}

// applyRecords fills f from a flow sample's records, in order. Like
// goflow2, it stops quietly where fewer bytes are left than a record
// claims (nextRecord).
func applyRecords(headers *headerParser, r *xdr, count uint32, f *record.Flow, stats *Stats) error {
	var acc flowRecords
	for range count {
		format, body, ok := r.nextRecord()
		if !ok {
			break
		}
		if err := acc.apply(headers, format, &body, f, stats); err != nil {
			return err
		}
	}
	acc.finish(f)
	return nil
}

func (acc *flowRecords) apply(headers *headerParser, format uint32, r *xdr, f *record.Flow, stats *Stats) error {
	switch format {
	case recordSampledHeader:
		protocol, frameLength, stripped, headerLength := r.u32(), r.u32(), r.u32(), r.u32()
		if r.short {
			return recordError("sampled header", r, nil)
		}
		data := r.b
		if uint64(headerLength) < uint64(len(data)) {
			data = data[:headerLength]
		}
		l3, status := headers.parse(protocol, data, f)
		switch headers.tunnel {
		case DecapsulateVXLAN:
			stats.DecapsulatedVXLAN++
		case DecapsulateGRE:
			stats.DecapsulatedGRE++
		}
		if headers.tunnelTruncated != 0 {
			status = headerTruncated
		}
		switch status {
		case headerUnknownProtocol:
			stats.HeadersUnknownProtocol++
		case headerNonIP:
			stats.HeadersNonIP++
		case headerTruncated:
			stats.HeadersTruncated++
		}
		acc.headerL3 = l3
		if frameLength > stripped {
			acc.frameBytes = uint64(frameLength - stripped)
		}
	case recordSampledEthernet:
		length := r.u32()
		src, dst := r.take(8), r.take(8) // XDR opaque[6], padded to 8
		r.u32()                          // type
		if r.short {
			return recordError("sampled Ethernet", r, nil)
		}
		acc.ethSrcMAC, acc.ethDstMAC = wire.MACToUint64(src[:6]), wire.MACToUint64(dst[:6])
		if length > 16 {
			acc.ethL3 = uint64(length - 16)
		}
	case recordSampledIPv4, recordSampledIPv6:
		length, proto := r.u32(), r.u32()
		size := uint32(4)
		if format == recordSampledIPv6 {
			size = 16
		}
		src, dst := r.take(size), r.take(size)
		srcPort, dstPort, tcpFlags, tos := r.u32(), r.u32(), r.u32(), r.u32()
		if r.short {
			return recordError("sampled IP", r, nil)
		}
		f.SrcAddr, f.DstAddr = record.AddrFromSlice(src), record.AddrFromSlice(dst)
		f.Proto = uint8(proto)
		f.SrcPort, f.DstPort = uint16(srcPort), uint16(dstPort)
		f.TCPFlags = uint16(tcpFlags)
		f.IPTos = uint8(tos)
		f.EType = wire.EtherTypeIPv4
		if format == recordSampledIPv6 {
			f.EType = wire.EtherTypeIPv6
		}
		acc.ipRecordL3 = uint64(length)
	case recordExtendedSwitch:
		srcVlan, _, dstVlan, _ := r.u32(), r.u32(), r.u32(), r.u32()
		if r.short {
			return recordError("extended switch", r, nil)
		}
		acc.switchSeen = true
		if srcVlan < 4096 {
			acc.srcVlan = uint16(srcVlan)
		}
		if dstVlan < 4096 {
			acc.dstVlan = uint16(dstVlan)
		}
	case recordExtendedRouter:
		nextHop, err := r.address()
		srcMask, dstMask := r.u32(), r.u32()
		if err != nil || r.short {
			return recordError("extended router", r, err)
		}
		f.NextHop = nextHop
		f.SrcNetMask, f.DstNetMask = uint8(srcMask), uint8(dstMask)
	case recordExtendedGateway:
		return applyGateway(r, f)
	}
	return nil
}

// applyGateway reads an extended gateway record: BGP next hop, the
// router's AS, the source AS and the destination AS path, whose last AS is
// the destination's.
func applyGateway(r *xdr, f *record.Flow) error {
	nextHop, err := r.address()
	as, srcAS := r.u32(), r.u32()
	r.u32() // source peer AS
	segments := r.u32()
	if err != nil || r.short {
		return recordError("extended gateway", r, err)
	}
	dstAS := as
	for range segments {
		r.u32() // segment type
		n := r.u32()
		members := r.take(4 * min(n, 1<<20))
		if r.short || uint64(n)*4 != uint64(len(members)) {
			return recordError("extended gateway AS path", r, nil)
		}
		if n > 0 {
			dstAS = binary.BigEndian.Uint32(members[len(members)-4:])
		}
	}
	f.BGPNextHop = nextHop
	f.SrcAS = as
	if srcAS != 0 {
		f.SrcAS = srcAS
	}
	f.DstAS = dstAS
	return nil
}

// finish applies the choices that depend on several records.
func (acc *flowRecords) finish(f *record.Flow) {
	if acc.switchSeen {
		f.SrcVlan, f.DstVlan = acc.srcVlan, acc.dstVlan
	}
	if f.SrcMAC == 0 && f.DstMAC == 0 {
		f.SrcMAC, f.DstMAC = acc.ethSrcMAC, acc.ethDstMAC
	}
	switch {
	case acc.headerL3 != 0:
		f.Bytes = acc.headerL3
	case acc.ipRecordL3 != 0:
		f.Bytes = acc.ipRecordL3
	case acc.ethL3 != 0:
		f.Bytes = acc.ethL3
	default:
		f.Bytes = acc.frameBytes
	}
}

// readCounterSample reads a counter sample (compact or expanded) into c;
// ok when it holds generic interface or Ethernet counters.
func readCounterSample(r *xdr, expanded bool, c *record.Counter) (ok bool, err error) {
	c.SequenceNumber = r.u32()
	if expanded {
		c.SourceIDType, c.SourceIDIndex = r.u32(), r.u32()
	} else {
		id := r.u32()
		c.SourceIDType, c.SourceIDIndex = id>>24, id&0x00ffffff
	}
	count := r.u32()
	if r.short {
		return false, recordError("counter sample", r, nil)
	}
	for range count {
		format, body, ok := r.nextRecord()
		if !ok {
			break
		}
		switch format {
		case counterGeneric:
			readGenericCounters(&body, c)
		case counterEthernet:
			readEthernetCounters(&body, c)
		default:
			continue
		}
		if body.short {
			return false, recordError("counter record", &body, nil)
		}
	}
	if !c.HasGeneric && !c.HasEthernet {
		return false, nil
	}
	if !c.HasGeneric && c.SourceIDType == 0 {
		c.IfIndex = c.SourceIDIndex // Ethernet counters alone: the source ID names the interface
	}
	return true, nil
}

// Bits of the generic counters' ifStatus (RFC 2233's ifAdminStatus and
// ifOperStatus, up = 1).
const (
	ifStatusAdminUp = 1 << 0
	ifStatusOperUp  = 1 << 1
)

func readGenericCounters(r *xdr, c *record.Counter) {
	c.HasGeneric = true
	c.IfIndex, c.IfType, c.IfSpeed, c.IfDirection = r.u32(), r.u32(), r.u64(), r.u32()
	status := r.u32()
	c.IfAdminStatus, c.IfOperStatus = 0, 0
	if status&ifStatusAdminUp != 0 {
		c.IfAdminStatus = 1
	}
	if status&ifStatusOperUp != 0 {
		c.IfOperStatus = 1
	}
	c.IfInOctets = r.u64()
	c.IfInUcastPkts, c.IfInMulticastPkts, c.IfInBroadcastPkts = r.u32(), r.u32(), r.u32()
	c.IfInDiscards, c.IfInErrors, c.IfInUnknownProtos = r.u32(), r.u32(), r.u32()
	c.IfOutOctets = r.u64()
	c.IfOutUcastPkts, c.IfOutMulticastPkts, c.IfOutBroadcastPkts = r.u32(), r.u32(), r.u32()
	c.IfOutDiscards, c.IfOutErrors = r.u32(), r.u32()
	c.IfPromiscuous = r.u32()
}

func readEthernetCounters(r *xdr, c *record.Counter) {
	c.HasEthernet = true
	for _, dst := range [...]*uint32{
		&c.Dot3StatsAlignmentErrors, &c.Dot3StatsFCSErrors, &c.Dot3StatsSingleCollisionFrames,
		&c.Dot3StatsMultipleCollisionFrames, &c.Dot3StatsSQETestErrors, &c.Dot3StatsDeferredTransmissions,
		&c.Dot3StatsLateCollisions, &c.Dot3StatsExcessiveCollisions, &c.Dot3StatsInternalMacTransmitErrors,
		&c.Dot3StatsCarrierSenseErrors, &c.Dot3StatsFrameTooLongs, &c.Dot3StatsInternalMacReceiveErrors,
		&c.Dot3StatsSymbolErrors,
	} {
		*dst = r.u32()
	}
}
