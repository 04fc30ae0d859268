package clickhouse

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"strconv"
	"time"

	chproto "github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"

	"sluice/pipeline/record"
)

// AggregateFamily is a set of tables that aggregate the same flow columns
// (the dimensions) at several time grains: a rollup family (flows_as_1m,
// flows_as_5m, flows_as_1h), or one side of the exporters table.
type AggregateFamily struct {
	// Dimensions are the flow columns the tables keep, in table order.
	Dimensions []string
	// Names are the dimensions' column names in the tables when they
	// differ from the flow columns' (the exporters table's IfName for
	// InIfName); nil: the same.
	Names []string
	// Grains are the tables, finest first; each interval is a multiple of
	// the previous one.
	Grains []AggregateGrain
}

// AggregateGrain is one table of a family.
type AggregateGrain struct {
	// Table is the qualified table name.
	Table string
	// Interval is the time bucket TimeReceived is floored to, in Unix
	// seconds (UTC); the table has the counters Bytes and Packets (scaled
	// by the sampling rate) and Flows. Zero: no bucket and no counters,
	// TimeReceived is the latest time a row's dimensions were seen (the
	// exporters table).
	Interval time.Duration
}

// Aggregator pre-aggregates a batch of flows into the blocks of the rollup
// tables, as the materialized views do with GROUP BY on every insert, but
// in Go: one hash aggregation per family over the finest grain's bucket and
// the dimensions, then each coarser grain from the finer one's groups. A
// table's block then holds one row per bucket and dimension tuple of the
// batch. The writer does not use it: measured against the views
// (BenchmarkInsertViews in storage/migrate, BENCHMARKS.md, 7 December
// 2026) it cost inserts more CPU, since the wide and interface rollups
// hold nearly a row per flow; it stays as that measurement's alternative.
//
// Its maps, key arena and column slices are kept across Reset, so an
// aggregator reused for batches of similar shape stops allocating. It is
// not safe for concurrent use.
type Aggregator struct {
	seed     maphash.Seed
	families []*familyAggregate
	blocks   []*AggregateBlock // one per table, in the order of first use
	key      []byte
}

type familyAggregate struct {
	dims   []record.Column
	grains []*grainAggregate
}

type grainAggregate struct {
	interval int64 // seconds; 0: latest time, no counters
	groups   groupTable
	block    *AggregateBlock
}

// NewAggregator returns an aggregator for the families. A table several
// families fill (both sides of the exporters table) gets a block from each:
// a block's dimensions are read from the flows with its family's columns.
func NewAggregator(families []AggregateFamily) (*Aggregator, error) {
	a := &Aggregator{seed: maphash.MakeSeed()}
	byTable := map[string]*AggregateBlock{}
	for _, f := range families {
		if len(f.Grains) == 0 {
			return nil, fmt.Errorf("aggregate %v: no table", f.Dimensions)
		}
		if f.Names != nil && len(f.Names) != len(f.Dimensions) {
			return nil, fmt.Errorf("aggregate %v: %d names for %d dimensions", f.Dimensions, len(f.Names), len(f.Dimensions))
		}
		fa := &familyAggregate{}
		for i, d := range f.Dimensions {
			c, ok := flowColumn(d)
			if !ok {
				return nil, fmt.Errorf("aggregate into %s: %s is not a flow column", f.Grains[0].Table, d)
			}
			switch c.Kind {
			case record.KindFeedSet, record.KindCommunityID, record.KindDateTime, record.KindDateTime64ms:
				return nil, fmt.Errorf("aggregate into %s: dimension %s: kind %d is not aggregated", f.Grains[0].Table, d, c.Kind)
			}
			if f.Names != nil {
				c.Name = f.Names[i]
			}
			fa.dims = append(fa.dims, c)
		}
		var prev int64
		for i, g := range f.Grains {
			iv := int64(g.Interval / time.Second)
			if g.Interval%time.Second != 0 || iv < 0 || (iv == 0) != (g.Interval == 0) {
				return nil, fmt.Errorf("aggregate into %s: interval %s is not whole seconds", g.Table, g.Interval)
			}
			if i > 0 && (prev == 0 || iv == 0 || iv%prev != 0) {
				return nil, fmt.Errorf("aggregate into %s: interval %s is not a multiple of the finer grain's", g.Table, g.Interval)
			}
			prev = iv
			blk, err := newAggregateBlock(g.Table, fa.dims, iv != 0)
			if err != nil {
				return nil, err
			}
			if first := byTable[g.Table]; first != nil {
				if first.counters != blk.counters || !sameNames(first.dims, fa.dims) {
					return nil, fmt.Errorf("aggregate into %s: families disagree on its columns", g.Table)
				}
				blk.part = first.part + 1
			}
			byTable[g.Table] = blk
			a.blocks = append(a.blocks, blk)
			fa.grains = append(fa.grains, &grainAggregate{interval: iv, block: blk})
		}
		a.families = append(a.families, fa)
	}
	return a, nil
}

func sameNames(b *BlockBuilder, dims []record.Column) bool {
	if len(b.columns) != len(dims) {
		return false
	}
	for i := range dims {
		if b.columns[i].name != dims[i].Name || b.columns[i].nativeType != nativeType(dims[i]) {
			return false
		}
	}
	return true
}

func flowColumn(name string) (record.Column, bool) {
	for _, c := range record.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return record.Column{}, false
}

// Reset empties every group and block, keeping their memory.
func (a *Aggregator) Reset() {
	for _, f := range a.families {
		for _, g := range f.grains {
			g.groups.reset()
		}
	}
	for _, b := range a.blocks {
		b.reset()
	}
}

// AddFlows aggregates flows into each family's finest grain. The flows
// must stay unchanged until the blocks are built and inserted: each group
// reads its dimensions from its first flow.
func (a *Aggregator) AddFlows(flows []record.Flow) {
	for fi := range a.families {
		fam := a.families[fi]
		g := fam.grains[0]
		for i := range flows {
			f := &flows[i]
			t := unixSeconds(int64(f.TimeReceived))
			var bucket int64
			if g.interval > 0 {
				bucket = floorTo(t, g.interval)
			}
			a.key = appendKey(a.key[:0], bucket, fam.dims, f)
			grp := g.groups.find(a.key, maphash.Bytes(a.seed, a.key), f, bucket)
			if g.interval > 0 {
				grp.bytes += f.Bytes * f.SamplingRate
				grp.packets += f.Packets * f.SamplingRate
				grp.flows++
			} else {
				grp.time = max(grp.time, t)
			}
		}
	}
}

// floorTo floors Unix seconds to a multiple of interval, toward the past.
func floorTo(t, interval int64) int64 {
	r := t % interval
	if r < 0 {
		r += interval
	}
	return t - r
}

// appendKey appends a group's key: its bucket, then each dimension's value
// (integers as 8 bytes, addresses as 16, strings length-prefixed).
func appendKey(key []byte, bucket int64, dims []record.Column, f *record.Flow) []byte {
	key = binary.LittleEndian.AppendUint64(key, uint64(bucket))
	for i := range dims {
		c := &dims[i]
		switch c.Kind {
		case record.KindIPv6:
			a := c.Addr(f)
			key = append(key, a[:]...)
		case record.KindString:
			s := *c.Str(f)
			key = binary.AppendUvarint(key, uint64(len(s)))
			key = append(key, s...)
		default:
			key = binary.LittleEndian.AppendUint64(key, c.Uint(f))
		}
	}
	return key
}

// Build sums each family's finer grains into its coarser ones and fills
// the tables' blocks. The blocks are valid until the next Reset or
// AddFlows.
func (a *Aggregator) Build() {
	for _, fam := range a.families {
		for gi := 1; gi < len(fam.grains); gi++ {
			fine, coarse := &fam.grains[gi-1].groups, fam.grains[gi]
			for i := range fine.groups {
				src := &fine.groups[i]
				bucket := floorTo(src.time, coarse.interval)
				a.key = binary.LittleEndian.AppendUint64(a.key[:0], uint64(bucket))
				a.key = append(a.key, fine.keyOf(src)[8:]...)
				grp := coarse.groups.find(a.key, maphash.Bytes(a.seed, a.key), src.rep, bucket)
				grp.bytes += src.bytes
				grp.packets += src.packets
				grp.flows += src.flows
			}
		}
		for _, g := range fam.grains {
			g.block.appendGroups(g.groups.groups)
		}
	}
}

// Blocks returns every table's block, in a fixed order; a block may be
// empty.
func (a *Aggregator) Blocks() []*AggregateBlock { return a.blocks }

// groupTable is a hash table of groups: index maps a key's hash to its
// first group, whose next chains those with the same hash; keys live in
// one arena. Nothing in it is freed by reset, so a table reused for
// batches of similar shape does not allocate.
type groupTable struct {
	index  map[uint64]int32
	keys   []byte
	groups []group
}

type group struct {
	keyOff, keyLen int32
	next           int32 // next group with the same hash, -1: none
	rep            *record.Flow
	time           int64 // the bucket, or the latest time seen
	bytes, packets uint64
	flows          uint64
}

func (t *groupTable) reset() {
	clear(t.index)
	t.keys = t.keys[:0]
	clear(t.groups) // drop the flows' references
	t.groups = t.groups[:0]
}

func (t *groupTable) keyOf(g *group) []byte { return t.keys[g.keyOff : g.keyOff+g.keyLen] }

// find returns the group of key, adding it (with rep as its first flow and
// time as its time) when it is new.
func (t *groupTable) find(key []byte, h uint64, rep *record.Flow, time int64) *group {
	if t.index == nil {
		t.index = make(map[uint64]int32)
	}
	first, ok := t.index[h]
	if ok {
		for i := first; i >= 0; i = t.groups[i].next {
			if string(t.keyOf(&t.groups[i])) == string(key) {
				return &t.groups[i]
			}
		}
	} else {
		first = -1
	}
	t.groups = append(t.groups, group{keyOff: int32(len(t.keys)), keyLen: int32(len(key)), next: first, rep: rep, time: time})
	t.keys = append(t.keys, key...)
	n := int32(len(t.groups) - 1)
	t.index[h] = n
	return &t.groups[n]
}

// AggregateBlock is one rollup table's rows for a batch: TimeReceived, the
// dimensions (read from each group's first flow, as the raw table's
// columns are built), and the counters Bytes, Packets and Flows when the
// table has them. It is a Block.
type AggregateBlock struct {
	table    string
	part     int // 0, or n for the n+1th family filling the table
	counters bool
	dims     *BlockBuilder
	own      *proto.Block // TimeReceived, then Bytes, Packets, Flows
	times    []int64
	sums     [3][]uint64
	filled   bool
}

var _ Block = (*AggregateBlock)(nil)

var counterNames = [3]string{"Bytes", "Packets", "Flows"}

func newAggregateBlock(table string, dims []record.Column, counters bool) (*AggregateBlock, error) {
	b, err := newBlockBuilder(dims)
	if err != nil {
		return nil, fmt.Errorf("aggregate into %s: %w", table, err)
	}
	blk := &AggregateBlock{table: table, counters: counters, dims: b, own: proto.NewBlock()}
	if err := blk.own.AddColumn("TimeReceived", column.Type("DateTime")); err != nil {
		return nil, err
	}
	if counters {
		for _, n := range counterNames {
			if err := blk.own.AddColumn(n, column.Type("UInt64")); err != nil {
				return nil, err
			}
		}
	}
	return blk, nil
}

// Table returns the qualified table the block is inserted into.
func (b *AggregateBlock) Table() string { return b.table }

// Name tells the block apart from every other of its aggregator, for its
// insert's deduplication token: the table, and for the second family
// filling it and those after, "#" and its number.
func (b *AggregateBlock) Name() string {
	if b.part == 0 {
		return b.table
	}
	return b.table + "#" + strconv.Itoa(b.part)
}

// Rows returns the number of rows in the block.
func (b *AggregateBlock) Rows() int { return len(b.times) }

func (b *AggregateBlock) reset() {
	b.dims.Reset()
	b.times = b.times[:0]
	for i := range b.sums {
		b.sums[i] = b.sums[i][:0]
	}
	b.own.Reset()
	b.filled = false
}

func (b *AggregateBlock) appendGroups(groups []group) {
	for i := range groups {
		g := &groups[i]
		b.dims.Append(g.rep)
		b.times = append(b.times, g.time)
		if b.counters {
			b.sums[0] = append(b.sums[0], g.bytes)
			b.sums[1] = append(b.sums[1], g.packets)
			b.sums[2] = append(b.sums[2], g.flows)
		}
	}
	b.filled = false
}

// EachColumn calls fn with each column's name and values, in table order:
// TimeReceived as []int64 seconds, the dimensions as BlockBuilder gives
// them, the counters as []uint64.
func (b *AggregateBlock) EachColumn(fn func(name string, values any) error) error {
	if err := fn("TimeReceived", b.times); err != nil {
		return fmt.Errorf("column TimeReceived: %w", err)
	}
	if err := b.dims.EachColumn(fn); err != nil {
		return err
	}
	if b.counters {
		for i, n := range counterNames {
			if err := fn(n, b.sums[i]); err != nil {
				return fmt.Errorf("column %s: %w", n, err)
			}
		}
	}
	return nil
}

// EncodeNative appends the block, as ClickHouse Native format, to dst.
func (b *AggregateBlock) EncodeNative(dst []byte) ([]byte, error) {
	if !b.filled {
		b.own.Reset()
		if _, err := b.own.Columns[0].Append(b.times); err != nil {
			return dst, fmt.Errorf("fill block: column TimeReceived: %w", err)
		}
		if b.counters {
			for i := range b.sums {
				if _, err := b.own.Columns[1+i].Append(b.sums[i]); err != nil {
					return dst, fmt.Errorf("fill block: column %s: %w", counterNames[i], err)
				}
			}
		}
		if err := b.dims.fill(); err != nil {
			return dst, fmt.Errorf("fill block: %w", err)
		}
		b.filled = true
	}
	buf := chproto.Buffer{Buf: dst}
	buf.PutUVarInt(uint64(len(b.own.Columns) + len(b.dims.columns)))
	buf.PutUVarInt(uint64(len(b.times)))
	if err := b.own.EncodeColumn(&buf, nativeRevision, 0); err != nil {
		return dst, fmt.Errorf("encode native block: %w", err)
	}
	if err := b.dims.encodeColumns(&buf); err != nil {
		return dst, err
	}
	for i := 1; i < len(b.own.Columns); i++ {
		if err := b.own.EncodeColumn(&buf, nativeRevision, i); err != nil {
			return dst, fmt.Errorf("encode native block: %w", err)
		}
	}
	return buf.Buf, nil
}
