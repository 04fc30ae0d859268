package netflow

import (
	"encoding/binary"
	"hash/maphash"
	"sync"

	"sluice/pipeline/record"
)

// totalsTable turns total counters (IE 85/86, cumulative over a flow's
// life) into the difference from the same flow's previous total, for the
// exporters that report a long flow's total again at each active timeout:
// stored as sent, sum(Bytes) would count the flow's early traffic once per
// report.
//
// A report is known to be the same flow's only when the record names the
// flow: by its start time (IE 150-155, or v9/IPFIX uptime 22) or its ID
// (IE 148, NSEL's NF_F_CONN_ID), with the exporter, observation domain,
// addresses, ports and protocol. Without either, two reports of one key
// may be two flows (a DNS client reusing its port), whose difference would
// be wrong: the total is stored as sent. A first report, a total lower
// than the previous one (a counter reset) or a previous report older than
// totalsIdle is stored as sent too.
//
// The table is direct-mapped and fixed in size, allocated on first use:
// no allocation per record, and bounded memory. A flow whose slot another
// took is seen again as a first report (stored as sent: counted again from
// its start), which a table of totalsSlots makes rare.
type totalsTable struct {
	once    sync.Once
	mu      sync.Mutex
	seed    maphash.Seed
	entries []totalsEntry
}

type totalsEntry struct {
	key            uint64
	bytes, packets uint64 // the previous totals
	seen           int64  // when, Unix nanoseconds received
}

const (
	totalsSlots = 1 << 16
	// totalsIdle bounds how old a previous report may be: longer than any
	// active timeout exporters use (30 minutes at most, usually 1 to 5).
	totalsIdle = int64(2 * 3600 * 1e9)
)

// totalsKey is what names one flow for the table; flowKnown is false when
// the record does not name its flow (no start time, no flow ID).
func (x *extractor) totalsKey(reverse bool) (key [totalsKeyLen]byte, flowKnown bool) {
	f := x.f
	start := uint64(x.times.start)
	if start == 0 && x.times.haveStartUp {
		start = uint64(x.times.startUptime) | 1<<63 // not a Unix time
	}
	if start == 0 && !x.haveFlowID {
		return key, false
	}
	b := key[:0]
	b = append(b, x.ctx.exporter[:]...)
	b = binary.BigEndian.AppendUint32(b, x.ctx.obsDomain)
	b = append(b, f.SrcAddr[:]...)
	b = append(b, f.DstAddr[:]...)
	b = binary.BigEndian.AppendUint16(b, f.SrcPort)
	b = binary.BigEndian.AppendUint16(b, f.DstPort)
	b = append(b, f.Proto)
	b = binary.BigEndian.AppendUint64(b, start)
	b = binary.BigEndian.AppendUint64(b, x.flowID)
	if reverse {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	_ = b
	return key, true
}

const totalsKeyLen = len(record.Addr{})*3 + 4 + 2 + 2 + 1 + 8 + 8 + 1

// difference replaces each of the totals in use (useBytes, usePackets) by
// its difference from the flow's previous report, and records them.
func (t *totalsTable) difference(key *[totalsKeyLen]byte, received int64, bytes, packets *uint64, useBytes, usePackets bool) {
	t.once.Do(func() {
		t.seed = maphash.MakeSeed()
		t.entries = make([]totalsEntry, totalsSlots)
	})
	h := maphash.Bytes(t.seed, key[:])
	h |= 1 // 0 marks an empty slot
	t.mu.Lock()
	e := &t.entries[h%totalsSlots]
	prev := *e
	*e = totalsEntry{key: h, bytes: *bytes, packets: *packets, seen: received}
	t.mu.Unlock()
	if prev.key != h || received-prev.seen > totalsIdle || received < prev.seen {
		return // a first report, or one too old to trust
	}
	if useBytes && *bytes < prev.bytes || usePackets && *packets < prev.packets {
		return // the exporter's counters restarted: a new flow
	}
	if useBytes {
		*bytes -= prev.bytes
	}
	if usePackets {
		*packets -= prev.packets
	}
}

// differenceTotals applies the table to a record's total counters in use
// (no delta counter beside them), forward and reverse. Records of firewall
// events are left to the NSEL event rule, which counts a teardown's totals
// whole.
func (x *extractor) differenceTotals(d *Decoder) {
	f := x.f
	if f.FirewallEvent != 0 {
		return
	}
	useBytes := !x.bytes.delta.present && x.bytes.total.present
	usePackets := !x.packets.delta.present && x.packets.total.present
	if useBytes || usePackets {
		if key, ok := x.totalsKey(false); ok {
			d.totals.difference(&key, x.ctx.receivedNanos, &f.Bytes, &f.Packets, useBytes, usePackets)
		}
	}
	r := &x.rev
	useBytes = !r.bytes.delta.present && r.bytes.total.present
	usePackets = !r.packets.delta.present && r.packets.total.present
	if useBytes || usePackets {
		if key, ok := x.totalsKey(true); ok {
			d.totals.difference(&key, x.ctx.receivedNanos, &r.bytes.total.v, &r.packets.total.v, useBytes, usePackets)
		}
	}
}
