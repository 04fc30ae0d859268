package netflow

import (
	"fmt"

	"github.com/netsampler/goflow2/v2/decoders/netflowlegacy"

	"sluice/collector/decodeerr"
	"sluice/collector/wire"
	"sluice/pipeline/record"
)

const (
	v5HeaderLen = 24
	v5RecordLen = 48
)

// decodeV5 decodes a NetFlow v5 datagram. A v5 datagram has a fixed layout,
// so its count must fit in its length: a datagram that claims more records
// than it holds is rejected whole (decodeerr.Truncated), because its contents
// cannot be trusted and because goflow2 would allocate for the claimed count
// first. Trailing bytes after the counted records are ignored.
func (d *Decoder) decodeV5(s *scratch, exporter record.Addr, receivedNanos int64, payload []byte, out record.Appender, stats *Stats) error {
	if len(payload) < v5HeaderLen {
		return newError(decodeerr.Truncated, fmt.Errorf("v5 header: %d bytes", len(payload)))
	}
	count := int(payload[2])<<8 | int(payload[3])
	if fits := (len(payload) - v5HeaderLen) / v5RecordLen; count > fits {
		return newError(decodeerr.Truncated, fmt.Errorf("v5 count %d but room for %d records", count, fits))
	}
	// goflow2 makes a new Records slice for every datagram (one of the two
	// allocations per v5 datagram, pinned by TestAllocsV5); only the
	// packet struct itself is reused.
	p := &s.v5
	if err := netflowlegacy.DecodeMessageVersion(newBuffer(payload), p); err != nil {
		return newError(decodeerr.Malformed, err)
	}

	// The low 14 bits are the interval; the top two the mode (0 none,
	// 1 deterministic, 2 random), which does not change the arithmetic.
	rate := uint64(p.SamplingInterval & 0x3fff)
	exportMillis := int64(p.UnixSecs)*1000 + int64(p.UnixNSecs)/1_000_000

	override := d.cfg.SamplingOverrides.Rate(exporter)
	for i := range p.Records {
		r := &p.Records[i]
		f := out.Slot()
		f.Reset()
		f.TimeReceived = receivedNanos
		f.TimeFlowStart = uptimeToUnixMillis(exportMillis, p.SysUptime, r.First)
		f.TimeFlowEnd = uptimeToUnixMillis(exportMillis, p.SysUptime, r.Last)
		f.FlowType = record.FlowTypeNetFlowV5
		f.ExporterAddress = exporter
		// v5 has no observation domain; engine type and ID identify the
		// flow-switching engine in the same role.
		f.ObservationDomainID = uint32(p.EngineType)<<8 | uint32(p.EngineId)
		f.SamplingRate = d.samplingRate(override, rate, stats)
		f.SrcAddr = addrFromUint32(uint32(r.SrcAddr))
		f.DstAddr = addrFromUint32(uint32(r.DstAddr))
		f.NextHop = addrFromUint32(uint32(r.NextHop))
		f.SrcNetMask = r.SrcMask
		f.DstNetMask = r.DstMask
		f.SrcAS = uint32(r.SrcAS)
		f.DstAS = uint32(r.DstAS)
		f.SrcPort = r.SrcPort
		f.DstPort = r.DstPort
		f.Proto = r.Proto
		f.EType = wire.EtherTypeIPv4
		f.TCPFlags = uint16(r.TCPFlags)
		f.IPTos = r.Tos
		f.InIfIndex = uint32(r.Input)
		f.OutIfIndex = uint32(r.Output)
		f.Packets = uint64(r.DPkts)
		f.Bytes = uint64(r.DOctets)
		icmpFromDstPort(f)
		out.Commit()
		stats.Flows++
	}
	return nil
}

func addrFromUint32(v uint32) record.Addr {
	return record.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// uptimeToUnixMillis converts a router uptime in milliseconds to Unix
// milliseconds, given the export time and the uptime at export. The
// difference is taken modulo 2^32 so that uptime wrap-around (every 49.7
// days) between the flow and the export does not throw the time off.
func uptimeToUnixMillis(exportMillis int64, uptimeAtExport, uptime uint32) int64 {
	return exportMillis - int64(int32(uptimeAtExport-uptime))
}
