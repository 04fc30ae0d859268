// Package sflow decodes sFlow v5 datagrams into sluice's canonical record.
//
// goflow2's decoders/sflow parses the datagram structure; the extraction
// into record.Flow, including the parsing of sampled packet headers
// (header.go), is ours and allocates nothing per record.
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
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/netsampler/goflow2/v2/decoders/sflow"

	"sluice/collector/decodeerr"
	"sluice/collector/sampling"
	"sluice/collector/wire"
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
	flow    record.Flow
	counter record.Counter
	packet  sflow.Packet
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
	s := d.scratch.Get().(*scratch)
	defer func() {
		if r := recover(); r != nil {
			d.panics.Add(1)
			err = decodeerr.Recovered("sflow", r)
			s = new(scratch)
		}
		d.scratch.Put(s)
	}()

	framingErr := checkSamples(payload)
	if r := decodeerr.Reason(framingErr); r == decodeerr.UnknownVersion || r == decodeerr.Malformed {
		return stats, framingErr
	}

	s.packet = sflow.Packet{}
	decodeErr := sflow.DecodeMessageVersion(bytes.NewBuffer(payload), &s.packet)
	if len(s.packet.Samples) == 0 && decodeErr != nil {
		if framingErr != nil {
			return stats, framingErr
		}
		return stats, decodeerr.FromEOF("sflow", decodeErr)
	}

	agent := record.AddrFromSlice(s.packet.AgentIP)
	if agent.IsZero() || agent == record.AddrFrom4([4]byte{}) {
		agent = exporter
	}
	override := d.cfg.SamplingOverrides.Rate(agent)
	headers := headerParser{decap: d.cfg.Decapsulate}
	for _, sample := range s.packet.Samples {
		switch sample := sample.(type) {
		case sflow.FlowSample:
			stats.FlowSamples++
			f := d.startFlow(s, agent, receivedNanos, sample.SamplingRate, override, &stats)
			setInterface(&f.InIfIndex, sample.Input>>30, sample.Input&0x3fffffff)
			setOutput(sample.Output>>30, sample.Output&0x3fffffff, f)
			applyRecords(&headers, sample.Records, f, &stats)
			emit(f)
			stats.Flows++
		case sflow.ExpandedFlowSample:
			stats.FlowSamples++
			f := d.startFlow(s, agent, receivedNanos, sample.SamplingRate, override, &stats)
			setInterface(&f.InIfIndex, sample.InputIfFormat, sample.InputIfValue)
			setOutput(sample.OutputIfFormat, sample.OutputIfValue, f)
			applyRecords(&headers, sample.Records, f, &stats)
			emit(f)
			stats.Flows++
		case sflow.CounterSample:
			stats.CounterSamples++
			if emitCounter != nil && counterFromSample(&sample, agent, s.packet.SubAgentId, receivedNanos, &s.counter) {
				emitCounter(&s.counter)
				stats.Counters++
			}
		case sflow.DropSample:
			stats.DropSamples++
		}
	}

	switch {
	case framingErr != nil:
		return stats, framingErr
	case decodeErr != nil:
		return stats, decodeerr.FromEOF("sflow", decodeErr)
	}
	return stats, nil
}

func (d *Decoder) startFlow(s *scratch, agent record.Addr, receivedNanos int64, rate uint32, override uint64, stats *Stats) *record.Flow {
	f := &s.flow
	f.Reset()
	f.TimeReceived = receivedNanos
	f.TimeFlowStart = receivedNanos / 1e6
	f.TimeFlowEnd = f.TimeFlowStart
	f.FlowType = record.FlowTypeSFlowV5
	f.ExporterAddress = agent
	f.ObservationDomainID = s.packet.SubAgentId
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

// applyRecords fills f from a flow sample's records.
func applyRecords(headers *headerParser, records []sflow.FlowRecord, f *record.Flow, stats *Stats) {
	var headerL3, ipRecordL3, ethL3, frameBytes uint64
	var switchSeen bool
	var ethSrcMAC, ethDstMAC uint64
	var srcVlan, dstVlan uint16
	for i := range records {
		switch r := records[i].Data.(type) {
		case sflow.SampledHeader:
			l3, status := headers.parse(r.Protocol, r.HeaderData, f)
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
			headerL3 = l3
			if r.FrameLength > r.Stripped {
				frameBytes = uint64(r.FrameLength - r.Stripped)
			}
		case sflow.SampledIPv4:
			f.SrcAddr = record.AddrFromSlice(r.SrcIP)
			f.DstAddr = record.AddrFromSlice(r.DstIP)
			f.Proto = uint8(r.Protocol)
			f.SrcPort, f.DstPort = uint16(r.SrcPort), uint16(r.DstPort)
			f.TCPFlags = uint16(r.TcpFlags)
			f.IPTos = uint8(r.Tos)
			f.EType = wire.EtherTypeIPv4
			ipRecordL3 = uint64(r.Length)
		case sflow.SampledIPv6:
			f.SrcAddr = record.AddrFromSlice(r.SrcIP)
			f.DstAddr = record.AddrFromSlice(r.DstIP)
			f.Proto = uint8(r.Protocol)
			f.SrcPort, f.DstPort = uint16(r.SrcPort), uint16(r.DstPort)
			f.TCPFlags = uint16(r.TcpFlags)
			f.IPTos = uint8(r.Priority)
			f.EType = wire.EtherTypeIPv6
			ipRecordL3 = uint64(r.Length)
		case sflow.SampledEthernet:
			ethSrcMAC, ethDstMAC = ethernetRecordMACs(&r)
			if r.Length > 16 {
				ethL3 = uint64(r.Length - 16)
			}
		case sflow.ExtendedSwitch:
			switchSeen = true
			if r.SrcVlan < 4096 {
				srcVlan = uint16(r.SrcVlan)
			}
			if r.DstVlan < 4096 {
				dstVlan = uint16(r.DstVlan)
			}
		case sflow.ExtendedRouter:
			f.NextHop = record.AddrFromSlice(r.NextHop)
			f.SrcNetMask = uint8(r.SrcMaskLen)
			f.DstNetMask = uint8(r.DstMaskLen)
		case sflow.ExtendedGateway:
			f.BGPNextHop = record.AddrFromSlice(r.NextHop)
			f.SrcAS = r.AS
			if r.SrcAS != 0 {
				f.SrcAS = r.SrcAS
			}
			f.DstAS = r.AS
			if len(r.ASPath) > 0 {
				f.DstAS = r.ASPath[len(r.ASPath)-1]
			}
		}
	}
	if switchSeen {
		f.SrcVlan, f.DstVlan = srcVlan, dstVlan
	}
	if f.SrcMAC == 0 && f.DstMAC == 0 {
		f.SrcMAC, f.DstMAC = ethSrcMAC, ethDstMAC
	}
	switch {
	case headerL3 != 0:
		f.Bytes = headerL3
	case ipRecordL3 != 0:
		f.Bytes = ipRecordL3
	case ethL3 != 0:
		f.Bytes = ethL3
	default:
		f.Bytes = frameBytes
	}
}

// ethernetRecordMACs returns the addresses of a sampled Ethernet record.
// sFlow encodes each MAC as XDR opaque[6], padded to 8 bytes; goflow2 v2
// reads 6 bytes without the padding, so its SrcMac is right but its DstMac
// holds the source padding and the first 4 destination bytes, and its
// EthType the last 2 destination bytes in its top half. The destination is
// rebuilt from those. The sampled header's MACs are preferred when present.
func ethernetRecordMACs(r *sflow.SampledEthernet) (src, dst uint64) {
	if len(r.SrcMac) != 6 || len(r.DstMac) != 6 {
		return 0, 0
	}
	src = wire.MACToUint64(r.SrcMac)
	dst = uint64(r.DstMac[2])<<40 | uint64(r.DstMac[3])<<32 | uint64(r.DstMac[4])<<24 | uint64(r.DstMac[5])<<16 | uint64(r.EthType>>16)
	return src, dst
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
		if format == sflow.SAMPLE_FORMAT_EXPANDED_FLOW && length >= expandedHeader {
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
