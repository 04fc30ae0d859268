package clickhouse

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"unsafe"

	chproto "github.com/ClickHouse/ch-go/proto"

	"sluice/pipeline/record"
	"sluice/storage/schema"
)

// ExportersBuilder builds the exporters table's rows (schema.Exporters) for
// a batch of flows, as the two materialized views of storage/migrate did:
// for each side (input, output), one row per distinct exporter and
// interface, attributes included, with the latest TimeReceived of the
// batch's flows that carried it. An interface renamed within a batch thus
// gives two rows, and the table (a ReplacingMergeTree on TimeReceived)
// keeps the latest.
//
// It is much cheaper than the generic Aggregator for this table, which
// serialises and hashes every column: a flow's exporter is found by its
// address in a small hash table, then each side's interface by the
// exporter, the interface index and the side packed in one integer; the
// few variants of each (usually one) are compared field by field, and the
// enrichment hands out shared strings, so those comparisons are mostly
// pointer checks. No string is hashed.
//
// Its tables, rows and column slices are kept across Reset, so a builder
// reused for batches of similar shape stops allocating. It is a Block once
// the flows are added. It is not safe for concurrent use.
type ExportersBuilder struct {
	exporterIndex hashIndex // a hash of the address → its latest variant in exporters
	exporters     []exporterVariant
	rowIndex      hashIndex // interfaceKey → its latest variant in rows
	rows          []exporterRow

	block   *BlockBuilder // TimeReceived, the exporter's columns, the interface's
	scratch record.Flow   // a row as a flow, for block
	built   bool
}

var _ Block = (*ExportersBuilder)(nil)

// Interface sides, in the order their rows are put in the block: the
// input view's rows came first.
const (
	sideIn uint8 = iota
	sideOut
)

// exporterAttrs are the exporter's columns but its address.
type exporterAttrs struct {
	name, group, role, site, region, tenant string
}

func (a *exporterAttrs) equal(b *exporterAttrs) bool {
	return sameString(a.name, b.name) && sameString(a.group, b.group) && sameString(a.role, b.role) &&
		sameString(a.site, b.site) && sameString(a.region, b.region) && sameString(a.tenant, b.tenant)
}

// exporterVariant is an exporter's address and attributes as seen in the
// batch.
type exporterVariant struct {
	addr  record.Addr
	attrs exporterAttrs
	next  int32 // an earlier variant with the same address hash, -1: none
}

// interfaceAttrs are one side's interface columns but its index.
type interfaceAttrs struct {
	name, description  string
	speed              uint64
	boundary           record.Boundary
	provider, connType string
}

func (a *interfaceAttrs) equal(b *interfaceAttrs) bool {
	return a.speed == b.speed && a.boundary == b.boundary && sameString(a.name, b.name) &&
		sameString(a.description, b.description) && sameString(a.provider, b.provider) && sameString(a.connType, b.connType)
}

// sameString is a == b, without reading the bytes when both are the same
// string (the enrichment's values are shared): the comparison of bytes is
// a function call that == always makes when the lengths are equal.
func sameString(a, b string) bool {
	return len(a) == len(b) && (unsafe.StringData(a) == unsafe.StringData(b) || a == b)
}

// exporterRow is a row of the block: an exporter variant (an index in
// exporters), one side's interface index and attributes, and the time.
type exporterRow struct {
	exporter int32
	ifIndex  uint32
	side     uint8
	iface    interfaceAttrs
	time     int64 // the latest TimeReceived, Unix nanoseconds
	next     int32 // an earlier variant of the interface, -1: none
}

// interfaceKey packs an exporter variant, an interface index and a side.
func interfaceKey(exporter int32, ifIndex uint32, side uint8) uint64 {
	return uint64(exporter)<<33 | uint64(ifIndex)<<1 | uint64(side)
}

// exportersColumns are the columns the builder reads, as schema.Exporters
// names them after TimeReceived; NewExportersBuilder refuses a schema that
// declares others, since add compares exactly these fields.
var exportersColumns = [...]string{
	"ExporterAddress", "ExporterName", "ExporterGroup", "ExporterRole", "ExporterSite", "ExporterRegion", "ExporterTenant",
	"IfIndex", "IfName", "IfDescription", "IfSpeed", "IfBoundary", "IfProvider", "IfConnectivity",
}

// NewExportersBuilder returns a builder for schema.Exporters.
func NewExportersBuilder() (*ExportersBuilder, error) {
	want := schema.Exporters.ColumnNames()
	if len(want) == 0 || want[0] != "TimeReceived" || !slices.Equal(want[1:], exportersColumns[:]) {
		return nil, fmt.Errorf("exporters builder: table %s has columns %v, the builder fills TimeReceived and %v",
			schema.Exporters.Qualified(), want, exportersColumns)
	}
	cols := make([]record.Column, len(want))
	for i, name := range want {
		flowName := name
		if i > len(schema.ExporterColumns) {
			flowName = "In" + name // the scratch flow holds a row's interface as the input one
		}
		c, ok := flowColumn(flowName)
		if !ok {
			return nil, fmt.Errorf("exporters builder: column %s: %s is not a flow column", name, flowName)
		}
		if t := schema.Exporters.Columns[i].Type; t != c.Type {
			return nil, fmt.Errorf("exporters builder: column %s is %s, the flows' %s is %s", name, t, flowName, c.Type)
		}
		switch c.Kind {
		case record.KindDateTime, record.KindIPv6, record.KindUInt32, record.KindUInt64, record.KindEnum8, record.KindString:
		default:
			return nil, fmt.Errorf("exporters builder: column %s: kind %d is not one encodeDirect writes", name, c.Kind)
		}
		c.Name = name
		cols[i] = c
	}
	block, err := newBlockBuilder(cols)
	if err != nil {
		return nil, fmt.Errorf("exporters builder: %w", err)
	}
	return &ExportersBuilder{block: block}, nil
}

// Reset empties the batch, keeping the memory.
func (b *ExportersBuilder) Reset() {
	b.exporterIndex.reset()
	b.rowIndex.reset()
	clear(b.exporters) // drop the strings, so enrichment tables can be freed
	b.exporters = b.exporters[:0]
	clear(b.rows)
	b.rows = b.rows[:0]
	b.block.Reset()
	b.built = false
}

// AddFlows adds both sides of every flow.
func (b *ExportersBuilder) AddFlows(flows []record.Flow) {
	for i := range flows {
		b.AddFlow(&flows[i])
	}
}

// AddFlow adds both sides of a flow. A caller that reads the flow for
// other columns too (the writer) calls it in the same pass, while the
// flow's memory is in the CPU's cache.
func (b *ExportersBuilder) AddFlow(f *record.Flow) {
	exp := b.exporter(f)
	b.add(interfaceKey(exp, f.InIfIndex, sideIn),
		&interfaceAttrs{f.InIfName, f.InIfDescription, f.InIfSpeed, f.InIfBoundary, f.InIfProvider, f.InIfConnectivity},
		f.TimeReceived)
	b.add(interfaceKey(exp, f.OutIfIndex, sideOut),
		&interfaceAttrs{f.OutIfName, f.OutIfDescription, f.OutIfSpeed, f.OutIfBoundary, f.OutIfProvider, f.OutIfConnectivity},
		f.TimeReceived)
	b.built = false
}

// exporter returns the index in exporters of the flow's exporter variant,
// adding it when new.
func (b *ExportersBuilder) exporter(f *record.Flow) int32 {
	attrs := exporterAttrs{f.ExporterName, f.ExporterGroup, f.ExporterRole, f.ExporterSite, f.ExporterRegion, f.ExporterTenant}
	lo := binary.LittleEndian.Uint64(f.ExporterAddress[:8])
	hi := binary.LittleEndian.Uint64(f.ExporterAddress[8:])
	h := lo ^ bits.RotateLeft64(hi, 31)
	slot := b.exporterIndex.find(h)
	first := b.exporterIndex.slots[slot].head - 1
	for i := first; i >= 0; {
		e := &b.exporters[i]
		if e.addr == f.ExporterAddress && e.attrs.equal(&attrs) {
			return i
		}
		i = e.next
	}
	n := int32(len(b.exporters))
	b.exporters = append(b.exporters, exporterVariant{addr: f.ExporterAddress, attrs: attrs, next: first})
	b.exporterIndex.set(slot, h, n)
	return n
}

// add counts one side of a flow: its row's time moves forward, or a row
// is added for an interface or attributes not seen yet in the batch.
func (b *ExportersBuilder) add(key uint64, iface *interfaceAttrs, t int64) {
	slot := b.rowIndex.find(key)
	first := b.rowIndex.slots[slot].head - 1
	for i := first; i >= 0; {
		r := &b.rows[i]
		if r.iface.equal(iface) {
			r.time = max(r.time, t)
			return
		}
		i = r.next
	}
	n := int32(len(b.rows))
	b.rows = append(b.rows, exporterRow{
		exporter: int32(key >> 33), ifIndex: uint32(key >> 1), side: uint8(key & 1),
		iface: *iface, time: t, next: first,
	})
	b.rowIndex.set(slot, key, n)
}

// Rows returns the number of rows in the block.
func (b *ExportersBuilder) Rows() int { return len(b.rows) }

// build copies the rows into the block's columns, the input side's first,
// once per batch.
func (b *ExportersBuilder) build() {
	if b.built {
		return
	}
	b.block.Reset()
	for _, side := range [...]uint8{sideIn, sideOut} {
		for i := range b.rows {
			if r := &b.rows[i]; r.side == side {
				b.setScratch(r)
				b.block.Append(&b.scratch)
			}
		}
	}
	b.scratch = record.Flow{} // no reference to the batch's strings outlives it
	b.built = true
}

// setScratch writes a row into the scratch flow's fields that the block's
// columns read: the exporter's, and the interface's as the input one.
func (b *ExportersBuilder) setScratch(r *exporterRow) {
	f, e := &b.scratch, &b.exporters[r.exporter]
	f.TimeReceived = r.time
	f.ExporterAddress = e.addr
	f.ExporterName, f.ExporterGroup, f.ExporterRole = e.attrs.name, e.attrs.group, e.attrs.role
	f.ExporterSite, f.ExporterRegion, f.ExporterTenant = e.attrs.site, e.attrs.region, e.attrs.tenant
	f.InIfIndex = r.ifIndex
	f.InIfName, f.InIfDescription, f.InIfSpeed = r.iface.name, r.iface.description, r.iface.speed
	f.InIfBoundary, f.InIfProvider, f.InIfConnectivity = r.iface.boundary, r.iface.provider, r.iface.connType
}

// EachColumn calls fn with each column's name and values, in table order,
// as BlockBuilder.EachColumn does.
func (b *ExportersBuilder) EachColumn(fn func(name string, values any) error) error {
	b.build()
	return b.block.EachColumn(fn)
}

// EncodeNative appends the block, as ClickHouse Native format, to dst. It
// writes every column itself (encodeDirect), so that a batch allocates
// nothing once dst has grown.
func (b *ExportersBuilder) EncodeNative(dst []byte) ([]byte, error) {
	b.build()
	return b.block.encodeDirect(dst)
}

// encodeDirect is EncodeNative for a block whose columns are all of the
// kinds written here without clickhouse-go (the exporters table's): no
// column is boxed into an interface, so nothing is allocated.
func (b *BlockBuilder) encodeDirect(dst []byte) ([]byte, error) {
	buf := chproto.Buffer{Buf: dst}
	buf.PutUVarInt(uint64(len(b.columns)))
	buf.PutUVarInt(uint64(b.rows))
	for i := range b.columns {
		c := &b.columns[i]
		buf.PutString(c.name)
		buf.PutString(c.nativeType)
		switch c.kind {
		case record.KindDateTime:
			for _, v := range c.i64 {
				buf.PutUInt32(uint32(v))
			}
		case record.KindIPv6:
			for j := range c.addrs {
				buf.PutRaw(c.addrs[j][:])
			}
		case record.KindUInt32:
			for _, v := range c.u32 {
				buf.PutUInt32(v)
			}
		case record.KindUInt64:
			for _, v := range c.u64 {
				buf.PutUInt64(v)
			}
		case record.KindEnum8:
			for _, v := range c.i8 {
				buf.PutInt8(v)
			}
		case record.KindString:
			c.encodeStrings(&buf)
		default:
			return dst, fmt.Errorf("encode native block: column %s: kind %d is not encoded directly", c.name, c.kind)
		}
	}
	return buf.Buf, nil
}

// hashIndex is an open-addressing hash table from a 64-bit key to a chain
// head (an index in the caller's slice): the interface keys are exact, the
// exporters' are a fold of their address, whose chains the caller walks
// comparing the address. It keeps at most half of its slots full.
type hashIndex struct {
	slots []hashSlot
	used  int
	shift uint // 64 - log2(len(slots))
}

type hashSlot struct {
	key  uint64
	head int32 // the index plus one; 0: an empty slot
}

// minHashSlots is a table's size before its first growth.
const minHashSlots = 256

func (x *hashIndex) reset() {
	clear(x.slots)
	x.used = 0
}

// mix64 scrambles a key's bits (multiply, xor-shift, multiply), so that
// keys differing in a few bits spread over the table; the slot is the
// top bits.
func mix64(x uint64) uint64 {
	x *= 0x9e3779b97f4a7c15
	x ^= x >> 32
	return x * 0xd6e8feb86659fd93
}

// find returns the slot of key: the one holding it, or the empty one where
// it goes.
func (x *hashIndex) find(key uint64) int {
	if x.slots == nil {
		x.slots = make([]hashSlot, minHashSlots)
		x.shift = uint(64 - bits.TrailingZeros(minHashSlots))
	}
	mask := len(x.slots) - 1
	for i := int(mix64(key) >> x.shift); ; i = (i + 1) & mask {
		if s := &x.slots[i]; s.head == 0 || s.key == key {
			return i
		}
	}
}

// set makes index the head of key's chain in slot (from find), and
// doubles the table once half full.
func (x *hashIndex) set(slot int, key uint64, index int32) {
	s := &x.slots[slot]
	if s.head == 0 {
		x.used++
	}
	s.key, s.head = key, index+1
	if 2*x.used <= len(x.slots) {
		return
	}
	old := x.slots
	x.slots = make([]hashSlot, 2*len(old))
	x.shift--
	mask := len(x.slots) - 1
	for _, s := range old {
		if s.head == 0 {
			continue
		}
		i := int(mix64(s.key) >> x.shift)
		for x.slots[i].head != 0 {
			i = (i + 1) & mask
		}
		x.slots[i] = s
	}
}
