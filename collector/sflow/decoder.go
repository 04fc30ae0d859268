// Package sflow decodes sFlow v5 datagrams into sluice's canonical record.
//
// The datagram is walked in place (walk.go), samples, records and sampled
// packet headers (header.go) alike, straight into record.Flow and
// record.Counter: decoding allocates nothing. goflow2's sFlow decoder is
// used only by the benchmarks that compare with it.
//
// Choices, following Akvorado where it has one:
//   - One record per flow sample (compact or expanded); Packets = 1 and
//     SamplingRate = the sample's rate, unless Config.SamplingOverrides
//     forces the agent's. A rate of 0 is replaced by
//     Config.DefaultSamplingRate (1 when unset) and counted in
//     Stats.SamplingDefaulted, as NetFlow does.
//   - MPLS: the first three labels of a sampled frame's label stack.
//   - Bytes is the sampled packet's layer-3 length: the IPv4 total length
//     or IPv6 payload length + 40 from the sampled header, else the length
//     of a sampled IPv4/IPv6 record, else the sampled Ethernet record's
//     length - 16. This matches what NetFlow and IPFIX count (IP bytes, no
//     Ethernet header nor FCS). For a non-IP sampled frame, the frame length
//     minus the bytes the agent stripped (e.g. FCS) is used.
//   - ExporterAddress is the agent address inside the datagram, not the UDP
//     source, so that agents behind NAT or relays keep their identity (the
//     UDP source is used when the agent address is unspecified).
//     ObservationDomainID is the sub-agent ID.
//   - Interfaces: format 0 is an ifIndex (0x3fffffff, "internal", is stored
//     as 0); format 1 on output means the packet was discarded: OutIfIndex 0
//     and ForwardingStatus 128 (RFC 7270 "dropped, unknown reason"); format 2
//     (several output interfaces) stores OutIfIndex 0.
//   - Extended switch sets the VLANs, overriding a tag from the sampled
//     header; extended router sets NextHop and masks; extended gateway sets
//     BGPNextHop, SrcAS (the gateway's own AS when the source AS is 0) and
//     DstAS (the last AS of the path, else the gateway's own AS).
//   - Counter samples carrying generic interface (format 1) or Ethernet
//     (format 2) counters become one record.Counter each
//     (DecodeWithCounters); other counter records (processor, LAG…) and
//     drop samples are counted, not emitted.
//   - TimeFlowStart and TimeFlowEnd are both the receive time in Unix
//     milliseconds: a sample describes one packet, and sFlow carries no time
//     of its own beyond the agent's uptime.
//   - Sampled headers that cannot be parsed down to IP are counted by
//     reason (Stats.HeadersUnknownProtocol, HeadersNonIP,
//     HeadersTruncated); the flow is still emitted with what was read.
package sflow

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"sluice/collector/decodeerr"
	"sluice/collector/sampling"
	"sluice/pipeline/record"
)

// Config configures a Decoder.
type Config struct {
	// DefaultSamplingRate is used for flow samples whose rate is 0. 0
	// leaves it at 1.
	DefaultSamplingRate uint64
	// SamplingOverrides force the rate of some agents (by agent address),
	// whatever their samples say (nil: none).
	SamplingOverrides *sampling.Overrides
	// Decapsulate lists the tunnels whose inner packet a sampled header's
	// record describes (none by default).
	Decapsulate Decapsulation
}

// DefaultConfig returns the default configuration.
func DefaultConfig() Config { return Config{} }

// Stats describes what Decode found in one datagram.
type Stats struct {
	Flows             int // records emitted
	FlowSamples       int // flow samples, compact and expanded
	CounterSamples    int // counter samples
	Counters          int // interface counter records emitted (DecodeWithCounters)
	DropSamples       int // drop samples (ignored)
	SamplingDefaulted int // emitted flows whose sample said rate 0

	// Sampled headers not parsed down to IP, by reason.
	HeadersUnknownProtocol int // header protocol other than Ethernet, IPv4, IPv6
	HeadersNonIP           int // neither IPv4 nor IPv6 inside (ARP, LLDP…), or a wrong IP version
	HeadersTruncated       int // too short to reach the IP header

	// Sampled headers whose tunnel's inner packet was read (Config.Decapsulate).
	DecapsulatedVXLAN, DecapsulatedGRE int
}

// Decoder decodes sFlow v5 datagrams. It holds no per-exporter state and is
// safe for concurrent use.
type Decoder struct {
	cfg     Config
	scratch sync.Pool
	panics  atomic.Uint64
}

type scratch struct {
	emitter record.Emitter // Decode's callback as an Appender
	counter record.Counter
}

// New returns a decoder.
func New(cfg Config) *Decoder {
	d := &Decoder{cfg: cfg}
	d.scratch.New = func() any { return new(scratch) }
	return d
}

// Panics returns how many panics Decode has recovered from.
func (d *Decoder) Panics() uint64 { return d.panics.Load() }

// Decode decodes one datagram received from exporter (the UDP source) at
// receivedNanos and calls emit once per flow sample. The *record.Flow passed
// to emit is reused: it is only valid during the call. Samples decoded
// before a problem are emitted even when an error is returned. Counter
// samples are counted only; DecodeWithCounters returns them too.
func (d *Decoder) Decode(exporter record.Addr, receivedNanos int64, payload []byte, emit func(*record.Flow)) (stats Stats, err error) {
	return d.DecodeWithCounters(exporter, receivedNanos, payload, emit, nil)
}

// DecodeWithCounters is Decode, and calls emitCounter (when not nil) once
// per counter sample, compact or expanded, that carries generic interface
// or Ethernet counters. The *record.Counter is only valid during the call.
func (d *Decoder) DecodeWithCounters(exporter record.Addr, receivedNanos int64, payload []byte, emit func(*record.Flow), emitCounter func(*record.Counter)) (stats Stats, err error) {
	return d.decode(exporter, receivedNanos, payload, nil, emit, emitCounter)
}

// DecodeInto is DecodeWithCounters, with the flow records decoded straight
// into where out keeps them (the collector's batch), with no copy:
// out.Slot gives the record to fill, out.Commit adds it.
func (d *Decoder) DecodeInto(exporter record.Addr, receivedNanos int64, payload []byte, out record.Appender, emitCounter func(*record.Counter)) (stats Stats, err error) {
	return d.decode(exporter, receivedNanos, payload, out, nil, emitCounter)
}

// decode fills out's records, or, when out is nil, the scratch's one for
// emit.
func (d *Decoder) decode(exporter record.Addr, receivedNanos int64, payload []byte, out record.Appender, emit func(*record.Flow), emitCounter func(*record.Counter)) (stats Stats, err error) {
	s := d.scratch.Get().(*scratch)
	if out == nil {
		s.emitter.Emit = emit
		out = &s.emitter
	}
	defer func() {
		if r := recover(); r != nil {
			d.panics.Add(1)
			err = decodeerr.Recovered("sflow", r)
			s = new(scratch)
		}
		s.emitter.Emit = nil
		d.scratch.Put(s)
	}()

	framingErr := checkSamples(payload)
	if r := decodeerr.Reason(framingErr); r == decodeerr.UnknownVersion || r == decodeerr.Malformed || len(payload) < 8 {
		return stats, framingErr
	}
	walkErr := d.walkDatagram(s, exporter, receivedNanos, payload, out, emitCounter, &stats)
	// A framing problem explains whatever the walk found after it.
	if framingErr != nil {
		return stats, framingErr
	}
	return stats, walkErr
}

func (d *Decoder) startFlow(f *record.Flow, agent record.Addr, subAgent uint32, receivedNanos int64, rate uint32, override uint64, stats *Stats) *record.Flow {
	f.Reset()
	f.TimeReceived = receivedNanos
	f.TimeFlowStart = receivedNanos / 1e6
	f.TimeFlowEnd = f.TimeFlowStart
	f.FlowType = record.FlowTypeSFlowV5
	f.ExporterAddress = agent
	f.ObservationDomainID = subAgent
	f.SamplingRate = uint64(rate)
	if override != 0 {
		f.SamplingRate = override
	} else if f.SamplingRate == 0 {
		stats.SamplingDefaulted++
		f.SamplingRate = max(d.cfg.DefaultSamplingRate, 1)
	}
	f.Packets = 1
	return f
}

const (
	interfaceFormatIndex    = 0
	interfaceFormatDiscard  = 1
	interfaceFormatMultiple = 2
	interfaceInternal       = 0x3fffffff
	forwardingDropped       = 128
)

func setInterface(dst *uint32, format, value uint32) {
	if format == interfaceFormatIndex && value != interfaceInternal {
		*dst = value
	}
}

func setOutput(format, value uint32, f *record.Flow) {
	switch format {
	case interfaceFormatIndex:
		setInterface(&f.OutIfIndex, format, value)
	case interfaceFormatDiscard:
		f.ForwardingStatus = forwardingDropped
	case interfaceFormatMultiple:
		// value is the number of output interfaces; no single index to store.
	}
}

// checkSamples walks the datagram's sample headers without decoding them.
// It rejects what goflow2 would mishandle (an expanded flow sample claiming
// more records than its length can hold makes goflow2 allocate for the
// claimed count) and reports a datagram whose last sample is cut short,
// which goflow2 silently drops.
func checkSamples(payload []byte) error {
	if len(payload) < 8 {
		return newError(decodeerr.Truncated, fmt.Errorf("header: %d bytes", len(payload)))
	}
	if v := binary.BigEndian.Uint32(payload); v != 5 {
		return newError(decodeerr.UnknownVersion, fmt.Errorf("version %d", v))
	}
	pos := 8
	switch binary.BigEndian.Uint32(payload[4:]) {
	case 1:
		pos += 4
	case 2:
		pos += 16
	default:
		return newError(decodeerr.Malformed, errors.New("agent address type"))
	}
	pos += 16 // sub-agent, sequence, uptime, sample count
	if len(payload) < pos {
		return newError(decodeerr.Truncated, fmt.Errorf("header: %d bytes", len(payload)))
	}
	count := binary.BigEndian.Uint32(payload[pos-4:])
	for i := uint32(0); i < count; i++ {
		if len(payload)-pos < 8 {
			return newError(decodeerr.Truncated, fmt.Errorf("sample %d of %d missing", i+1, count))
		}
		format := binary.BigEndian.Uint32(payload[pos:])
		length := int(binary.BigEndian.Uint32(payload[pos+4:]))
		pos += 8
		if length > len(payload)-pos || length < 0 {
			return newError(decodeerr.Truncated, fmt.Errorf("sample %d of %d: length %d, %d bytes left", i+1, count, length, len(payload)-pos))
		}
		const expandedHeader = 44 // fields before the record count, count included
		if format == sampleExpandedFlow && length >= expandedHeader {
			records := binary.BigEndian.Uint32(payload[pos+expandedHeader-4:])
			if uint64(records)*8 > uint64(length-expandedHeader) {
				return newError(decodeerr.Malformed, fmt.Errorf("expanded sample claims %d records in %d bytes", records, length))
			}
		}
		pos += length
	}
	return nil
}

func newError(reason string, err error) *decodeerr.Error {
	return decodeerr.New("sflow", reason, err)
}
