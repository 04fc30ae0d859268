package demo

import (
	"encoding/binary"
	"time"
)

// NetFlow v5 layout, from Cisco's "NetFlow Export Datagram Format" (there is no RFC): a 24-byte
// header and up to 30 fixed 48-byte records, all IPv4.
const (
	netflow5Version      = 5
	netflow5HeaderLength = 24
	netflow5RecordLength = 48
	// NetFlow5MaxFlows is the most records a v5 datagram may carry.
	NetFlow5MaxFlows = 30
	// asTrans stands for a 4-byte AS number in a 2-byte field (RFC 6793 section 9).
	asTrans = 23456
	// netflow5SamplingPacketInterval is the sampling mode "packet interval" in the top two bits
	// of the header's sampling_interval field; the low 14 bits hold the interval.
	netflow5SamplingPacketInterval = 1 << 14
)

// NetFlow5Header holds the header fields of a NetFlow v5 datagram that the exporter owns; the
// count is derived from the flows.
type NetFlow5Header struct {
	Boot       time.Time // sysUptime, First and Last are milliseconds since Boot
	ExportTime time.Time // unix_secs and unix_nsecs; sysUptime is taken at the same instant
	// FlowSequence counts the flows sent before this datagram by this engine.
	FlowSequence uint32
	EngineType   uint8
	EngineID     uint8
	// SamplingInterval is 1 in N packets (0 or 1: unsampled); it must fit in 14 bits.
	SamplingInterval uint16
}

// AppendNetFlow5 appends a NetFlow v5 datagram holding flows (at most NetFlow5MaxFlows, all
// IPv4) to dst. Fields wider than v5's are truncated, which the generator avoids: interfaces
// are 16 bits, counters 32 bits, and AS numbers 16 bits (the generator writes AS_TRANS).
func AppendNetFlow5(dst []byte, h NetFlow5Header, flows []Flow) []byte {
	dst = binary.BigEndian.AppendUint16(dst, netflow5Version)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(flows)))
	dst = binary.BigEndian.AppendUint32(dst, uptimeMillis(h.Boot, h.ExportTime))
	dst = binary.BigEndian.AppendUint32(dst, uint32(h.ExportTime.Unix()))
	dst = binary.BigEndian.AppendUint32(dst, uint32(h.ExportTime.Nanosecond()))
	dst = binary.BigEndian.AppendUint32(dst, h.FlowSequence)
	dst = append(dst, h.EngineType, h.EngineID)
	sampling := uint16(0)
	if h.SamplingInterval > 1 {
		sampling = netflow5SamplingPacketInterval | h.SamplingInterval&0x3fff
	}
	dst = binary.BigEndian.AppendUint16(dst, sampling)

	for i := range flows {
		f := &flows[i]
		dst = appendAddr(dst, f.SrcAddr, 4)
		dst = appendAddr(dst, f.DstAddr, 4)
		dst = appendAddr(dst, f.NextHop, 4)
		dst = binary.BigEndian.AppendUint16(dst, uint16(f.InIf))
		dst = binary.BigEndian.AppendUint16(dst, uint16(f.OutIf))
		dst = binary.BigEndian.AppendUint32(dst, uint32(f.Packets))
		dst = binary.BigEndian.AppendUint32(dst, uint32(f.Bytes))
		dst = binary.BigEndian.AppendUint32(dst, uptimeMillis(h.Boot, f.Start))
		dst = binary.BigEndian.AppendUint32(dst, uptimeMillis(h.Boot, f.End))
		dst = binary.BigEndian.AppendUint16(dst, f.SrcPort)
		dst = binary.BigEndian.AppendUint16(dst, f.DstPort)
		dst = append(dst, 0, f.TCPFlags, f.IPProto, f.TOS) // pad1, tcp_flags, prot, tos
		dst = binary.BigEndian.AppendUint16(dst, uint16(f.SrcAS))
		dst = binary.BigEndian.AppendUint16(dst, uint16(f.DstAS))
		dst = append(dst, f.SrcMask, f.DstMask, 0, 0) // masks, pad2
	}
	return dst
}
