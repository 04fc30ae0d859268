package clickhouse

import (
	"fmt"

	chproto "github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"

	"sluice/pipeline/record"
	"sluice/storage/schema"
)

// Block is a batch's columns, built once: what an Inserter stores, encoded
// as Native format (the embedded engine) or appended column by column to a
// native-protocol batch (a server). BlockBuilder (flows), TableBuilder
// (the tables storage/schema declares) and ExportersBuilder (the exporters
// table, from flows) are Blocks.
type Block interface {
	// Rows returns the number of rows in the batch.
	Rows() int
	// EncodeNative appends the batch, as ClickHouse Native format, to dst.
	EncodeNative(dst []byte) ([]byte, error)
	// EachColumn calls fn with each column's name and values, in table
	// order, as the typed slice clickhouse-go's columnar Append takes.
	EachColumn(fn func(name string, values any) error) error
}

var (
	_ Block = (*BlockBuilder)(nil)
	_ Block = (*TableBuilder[record.Counter])(nil)
)

// TableBuilder collects rows of a table storage/schema declares (interface
// counters) into one typed slice per column, as BlockBuilder does for
// flows, and hands them to clickhouse-go once per batch. Its columns and
// their types are the declaration's, so a column added there is written
// without a change here. The slices are kept across Reset.
//
// A TableBuilder is not safe for concurrent use.
type TableBuilder[R any] struct {
	columns []tableBuffer[R]
	block   *proto.Block
	rows    int
	filled  bool
}

// tableBuffer holds one column's values for the batch.
type tableBuffer[R any] struct {
	name string
	typ  string
	uint func(*R) uint64
	addr func(*R) *record.Addr

	u8    []uint8
	u16   []uint16
	u32   []uint32
	u64   []uint64
	bools []bool
	i64   []int64    // DateTime, in seconds
	addrs [][16]byte // IPv6
}

// NewTableBuilder returns a builder for the columns of t, which the
// writer fills: every column has the accessor its type needs.
func NewTableBuilder[R any](t *schema.Table[R]) (*TableBuilder[R], error) {
	b := &TableBuilder[R]{columns: make([]tableBuffer[R], len(t.Columns)), block: proto.NewBlock()}
	for i, c := range t.Columns {
		switch c.Type {
		case "UInt8", "UInt16", "UInt32", "UInt64", "Bool", "DateTime":
			if c.Uint == nil || c.Addr != nil {
				return nil, fmt.Errorf("table %s: column %s: type %s needs the Uint accessor only", t.Name, c.Name, c.Type)
			}
		case "IPv6":
			if c.Addr == nil || c.Uint != nil {
				return nil, fmt.Errorf("table %s: column %s: type IPv6 needs the Addr accessor only", t.Name, c.Name)
			}
		default:
			return nil, fmt.Errorf("table %s: column %s: type %q is not one the writer fills", t.Name, c.Name, c.Type)
		}
		if err := b.block.AddColumn(c.Name, column.Type(c.Type)); err != nil {
			return nil, fmt.Errorf("table %s: column %s: type %q: %w", t.Name, c.Name, c.Type, err)
		}
		b.columns[i] = tableBuffer[R]{name: c.Name, typ: c.Type, uint: c.Uint, addr: c.Addr}
	}
	return b, nil
}

// Append adds one row to the batch.
func (b *TableBuilder[R]) Append(r *R) {
	for i := range b.columns {
		c := &b.columns[i]
		switch c.typ {
		case "UInt8":
			c.u8 = append(c.u8, uint8(c.uint(r)))
		case "UInt16":
			c.u16 = append(c.u16, uint16(c.uint(r)))
		case "UInt32":
			c.u32 = append(c.u32, uint32(c.uint(r)))
		case "UInt64":
			c.u64 = append(c.u64, c.uint(r))
		case "Bool":
			c.bools = append(c.bools, c.uint(r) != 0)
		case "DateTime":
			c.i64 = append(c.i64, unixSeconds(int64(c.uint(r))))
		case "IPv6":
			c.addrs = append(c.addrs, *c.addr(r))
		}
	}
	b.rows++
	b.filled = false
}

// AppendRows adds every row of a batch.
func (b *TableBuilder[R]) AppendRows(rows []R) {
	for i := range rows {
		b.Append(&rows[i])
	}
}

// Rows returns the number of rows in the batch.
func (b *TableBuilder[R]) Rows() int { return b.rows }

// Reset empties the batch, keeping the slices' capacity.
func (b *TableBuilder[R]) Reset() {
	for i := range b.columns {
		c := &b.columns[i]
		c.u8, c.u16, c.u32, c.u64 = c.u8[:0], c.u16[:0], c.u32[:0], c.u64[:0]
		c.bools, c.i64, c.addrs = c.bools[:0], c.i64[:0], c.addrs[:0]
	}
	b.rows = 0
	b.block.Reset()
	b.filled = false
}

// values returns the column's slice for the batch.
func (c *tableBuffer[R]) values() any {
	switch c.typ {
	case "UInt8":
		return c.u8
	case "UInt16":
		return c.u16
	case "UInt32":
		return c.u32
	case "UInt64":
		return c.u64
	case "Bool":
		return c.bools
	case "DateTime":
		return c.i64
	case "IPv6":
		return c.addrs
	}
	panic("unreachable: types are checked in NewTableBuilder")
}

// EachColumn calls fn once per column, in table order, with the column's
// name and the batch's values: []uint8/16/32/64, []bool, []int64 of
// seconds for DateTime, [][16]byte for IPv6. The slices are only valid
// until the next Append or Reset.
func (b *TableBuilder[R]) EachColumn(fn func(name string, values any) error) error {
	for i := range b.columns {
		if err := fn(b.columns[i].name, b.columns[i].values()); err != nil {
			return fmt.Errorf("column %s: %w", b.columns[i].name, err)
		}
	}
	return nil
}

// EncodeNative appends the batch, encoded as ClickHouse Native format (one
// block), to dst and returns the extended slice.
func (b *TableBuilder[R]) EncodeNative(dst []byte) ([]byte, error) {
	if !b.filled {
		b.block.Reset()
		for i := range b.columns {
			if _, err := b.block.Columns[i].Append(b.columns[i].values()); err != nil {
				return dst, fmt.Errorf("fill block: column %s: %w", b.columns[i].name, err)
			}
		}
		b.filled = true
	}
	buf := chproto.Buffer{Buf: dst}
	if err := b.block.Encode(&buf, nativeRevision); err != nil {
		return dst, fmt.Errorf("encode native block: %w", err)
	}
	return buf.Buf, nil
}

// unixSeconds floors Unix nanoseconds to seconds: a (theoretical) negative
// time must not round toward the epoch.
func unixSeconds(ns int64) int64 {
	s := ns / 1e9
	if ns%1e9 < 0 {
		s--
	}
	return s
}
