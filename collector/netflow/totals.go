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
// (IE 148, NSEL's NF_F_CONN_ID; 0 names no flow), with the exporter, observation domain,
// addresses, ports and protocol. Without either, two reports of one key
// may be two flows (a DNS client reusing its port), whose difference would
// be wrong: the total is stored as sent. A first report, or one whose
// previous report is older than totalsIdle, is stored as sent too; a total
// lower than the flow's newest is an older report, stored as 0 (see
// difference).
//
// The table is one per Decoder (the whole collector: its workers share
// the decoder), fixed in size (totalsSlots entries, 2 MiB), allocated on
// first use: no allocation per record, and bounded memory. It is
// set-associative: a flow hashes to a bucket of totalsWays entries and
// takes a free one, else the one seen longest ago. A flow whose entry
// another took while it was live (seen within totalsIdle) is counted in
// Stats.TotalsEvicted, and its next report is seen as a first one: stored
// as sent, counted again from its start.
type totalsTable struct {
	once    sync.Once
	mu      sync.Mutex
	seed    maphash.Seed
	buckets int           // of totalsWays entries; 0 until first use (tests set it smaller)
	entries []totalsEntry // bucket b is entries[b*totalsWays:][:totalsWays]
}

type totalsEntry struct {
	key            uint64
	bytes, packets uint64 // the previous totals
	seen           int64  // when, Unix nanoseconds received
}

const (
	totalsSlots = 1 << 16
	totalsWays  = 8 // entries per bucket: a flow takes any free or oldest one of its bucket
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
	if start == 0 && x.flowID == 0 {
		// No start time, and no flow ID (or 0, which names no flow:
		// exporters send it for "none").
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

// difference replaces each of the totals in use (useBytes, usePackets, stats) by
// its difference from the flow's previous report, and records them.
//
// The previous report kept is the one with the largest totals: a flow's
// totals only grow, so a report with a lower total than the one kept is an
// older report that arrived (or was decoded) late, whose traffic the newer
// total already holds. It is stored as 0 (counted in stats.TotalsOutOfOrder)
// and leaves the entry as it was: stored as sent it would count that
// traffic twice. A real counter reset under the same flow name (same start
// time or flow ID) is counted 0 then too; undercounting that rare case is
// the price of never counting twice.
func (t *totalsTable) difference(key *[totalsKeyLen]byte, received int64, bytes, packets *uint64, useBytes, usePackets bool, stats *Stats) {
	t.once.Do(func() {
		t.seed = maphash.MakeSeed()
		if t.buckets == 0 {
			t.buckets = totalsSlots / totalsWays
		}
		t.entries = make([]totalsEntry, t.buckets*totalsWays)
	})
	h := maphash.Bytes(t.seed, key[:])
	h |= 1 // 0 marks an empty slot
	t.mu.Lock()
	defer t.mu.Unlock()
	i := int((h>>1)%uint64(t.buckets)) * totalsWays
	bucket := t.entries[i : i+totalsWays]
	var e *totalsEntry
	victim := &bucket[0]
	for j := range bucket {
		s := &bucket[j]
		if s.key == h {
			e = s
			break
		}
		if victim.key != 0 && (s.key == 0 || s.seen < victim.seen) {
			victim = s // an empty slot, else the one seen longest ago
		}
	}
	if e == nil || received-e.seen > totalsIdle {
		// A first report, or one whose previous report is too old to
		// trust: stored as sent.
		if e == nil {
			if victim.key != 0 && received-victim.seen <= totalsIdle {
				// A live flow loses its entry: its next report is
				// stored as sent (README, "Conventions").
				stats.TotalsEvicted++
			}
			e = victim
		}
		*e = totalsEntry{key: h, bytes: *bytes, packets: *packets, seen: received}
		return
	}
	if useBytes && *bytes < e.bytes || usePackets && *packets < e.packets {
		stats.TotalsOutOfOrder++
		if useBytes {
			*bytes = 0
		}
		if usePackets {
			*packets = 0
		}
		return
	}
	prevBytes, prevPackets := e.bytes, e.packets
	e.bytes, e.packets = *bytes, *packets
	e.seen = max(e.seen, received)
	if useBytes {
		*bytes -= prevBytes
	}
	if usePackets {
		*packets -= prevPackets
	}
}

// differenceTotals applies the table to a record's total counters in use
// (no delta counter beside them), forward and reverse. Records of firewall
// events are left to the NSEL event rule, which counts a teardown's totals
// whole.
func (x *extractor) differenceTotals(d *Decoder, stats *Stats) {
	f := x.f
	if f.FirewallEvent != 0 {
		return
	}
	useBytes := !x.bytes.delta.present && x.bytes.total.present
	usePackets := !x.packets.delta.present && x.packets.total.present
	if useBytes || usePackets {
		if key, ok := x.totalsKey(false); ok {
			d.totals.difference(&key, x.ctx.receivedNanos, &f.Bytes, &f.Packets, useBytes, usePackets, stats)
		}
	}
	r := &x.rev
	useBytes = !r.bytes.delta.present && r.bytes.total.present
	usePackets = !r.packets.delta.present && r.packets.total.present
	if useBytes || usePackets {
		if key, ok := x.totalsKey(true); ok {
			d.totals.difference(&key, x.ctx.receivedNanos, &r.bytes.total.v, &r.packets.total.v, useBytes, usePackets, stats)
		}
	}
}
