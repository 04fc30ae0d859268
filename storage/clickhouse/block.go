// Package clickhouse builds the columns of a batch once, with
// clickhouse-go/v2, for both storage targets: encoded as ClickHouse Native
// format for the embedded engine, or handed column by column to a server
// batch (driver.Batch.Column(i).Append). A batch of flows takes its columns
// and types from record.Columns (BlockBuilder), a batch of counter samples
// from schema.Counters (TableBuilder), so a column added to a declaration
// is written without a change here.
//
// This package must not import chDB: binaries and tests that only encode
// should not need libchdb.
package clickhouse

import (
	"fmt"
	"strings"

	chproto "github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"

	"sluice/pipeline/record"
)

// nativeRevision is the protocol revision at which a block encodes as plain
// Native format: no block info, no custom serialization flags.
const nativeRevision = 0

// BlockBuilder collects flows into one typed Go slice per column, then hands
// each slice to clickhouse-go in a single columnar Append per batch, so the
// per-record path only copies values and never boxes them into interfaces.
// The slices are kept across Reset, so a builder reused for batches of
// similar size stops allocating.
//
// String columns are the exception: clickhouse-go appends LowCardinality and
// Array values row by row through reflection, boxing each string. The
// builder encodes them itself in the Native block as String and
// Array(String), which the engine converts to the table's LowCardinality
// types on insert (input_format_native_allow_types_conversion, on by
// default), and renders Community IDs straight into the block's bytes.
//
// A BlockBuilder is not safe for concurrent use.
type BlockBuilder struct {
	columns []columnBuffer
	rows    int

	// block holds clickhouse-go columns created from the ClickHouse type
	// strings of the fixed-size columns of record.Columns; it is filled from
	// the slices at encode time.
	block  *proto.Block
	filled bool

	// feedNames caches each distinct feed set's names for EachColumn, so a
	// batch allocates once per set, not once per row.
	feedNames map[record.FeedSet][]string
}

// columnBuffer holds one column's values for the batch in the Go type that
// clickhouse-go's columnar Append accepts for its ClickHouse type.
type columnBuffer struct {
	name  string
	kind  record.Kind
	uint  func(*record.Flow) uint64
	addr  func(*record.Flow) *record.Addr
	str   func(*record.Flow) *string
	hash  func(*record.Flow) *record.CommunityID
	enums *[256]bool // valid Enum8 values; others are stored as 0
	// blockIndex is the column's index in block, -1 for the columns the
	// builder encodes itself (strings), which are sent as nativeType.
	blockIndex int
	nativeType string

	u8    []uint8
	u16   []uint16
	u32   []uint32
	u64   []uint64
	i8    []int8     // Enum8
	i64   []int64    // DateTime in seconds, DateTime64(3) in milliseconds
	addrs [][16]byte // IPv6

	strs   []string             // KindString
	feeds  []record.FeedSet     // KindFeedSet
	hashes []record.CommunityID // KindCommunityID

	// The server path's values of feed sets and Community IDs, reused
	// across batches.
	feedRows [][]string
	texts    []string
}

// nativeType is the type a column is sent as in a Native block: the table's
// type, except for the string kinds the builder encodes itself.
func nativeType(c record.Column) string {
	switch c.Kind {
	case record.KindString, record.KindCommunityID:
		return "String"
	case record.KindFeedSet:
		return "Array(String)"
	}
	return c.Type
}

// selfEncoded reports whether the builder writes the column's Native
// encoding itself rather than through clickhouse-go.
func selfEncoded(k record.Kind) bool {
	return k == record.KindString || k == record.KindFeedSet || k == record.KindCommunityID
}

// NewBlockBuilder returns a builder for the columns of record.Columns.
func NewBlockBuilder() (*BlockBuilder, error) {
	return newBlockBuilder(record.Columns)
}

func newBlockBuilder(columns []record.Column) (*BlockBuilder, error) {
	b := &BlockBuilder{
		columns: make([]columnBuffer, len(columns)),
		block:   proto.NewBlock(),
	}
	for i, c := range columns {
		if err := checkKind(c); err != nil {
			return nil, err
		}
		b.columns[i] = columnBuffer{name: c.Name, kind: c.Kind, uint: c.Uint, addr: c.Addr, str: c.Str, hash: c.Hash, blockIndex: -1, nativeType: nativeType(c)}
		if !selfEncoded(c.Kind) {
			if err := b.block.AddColumn(c.Name, column.Type(c.Type)); err != nil {
				return nil, fmt.Errorf("column %s: type %q: %w", c.Name, c.Type, err)
			}
			b.columns[i].blockIndex = len(b.block.Columns) - 1
		}
		if c.Kind == record.KindEnum8 {
			enums, err := enumValues(c)
			if err != nil {
				return nil, err
			}
			b.columns[i].enums = enums
		}
	}
	return b, nil
}

// checkKind refuses a column whose Kind and ClickHouse type disagree: the
// builder's conversions (nanoseconds to seconds, milliseconds as-is) are only
// right for the types listed here.
func checkKind(c record.Column) error {
	want := map[record.Kind]string{
		record.KindUInt8:        "UInt8",
		record.KindUInt16:       "UInt16",
		record.KindUInt32:       "UInt32",
		record.KindUInt64:       "UInt64",
		record.KindIPv6:         "IPv6",
		record.KindDateTime:     "DateTime",
		record.KindDateTime64ms: "DateTime64(3)",
		record.KindFeedSet:      "Array(LowCardinality(String))",
		record.KindCommunityID:  "String",
	}
	switch {
	case c.Kind == record.KindString:
		if c.Type != "String" && c.Type != "LowCardinality(String)" {
			return fmt.Errorf("column %s: kind String needs type String or LowCardinality(String), not %q", c.Name, c.Type)
		}
	case c.Kind == record.KindEnum8:
		if !strings.HasPrefix(c.Type, "Enum8(") {
			return fmt.Errorf("column %s: kind Enum8 needs an Enum8 type, not %q", c.Name, c.Type)
		}
	case want[c.Kind] == "":
		return fmt.Errorf("column %s: unsupported kind %d", c.Name, c.Kind)
	case want[c.Kind] != c.Type:
		return fmt.Errorf("column %s: kind wants type %s, not %q", c.Name, want[c.Kind], c.Type)
	}
	usesUint := c.Kind != record.KindIPv6 && c.Kind != record.KindString && c.Kind != record.KindCommunityID
	if (c.Kind == record.KindIPv6) != (c.Addr != nil) || usesUint != (c.Uint != nil) ||
		(c.Kind == record.KindString) != (c.Str != nil) || (c.Kind == record.KindCommunityID) != (c.Hash != nil) {
		return fmt.Errorf("column %s: accessors do not match kind %d", c.Name, c.Kind)
	}
	return nil
}

// enumValues asks clickhouse-go which of the 256 Enum8 values the column's
// type defines, so that an out-of-range value in one record is stored as 0
// instead of failing the whole batch at encode time.
func enumValues(c record.Column) (*[256]bool, error) {
	col, err := column.Type(c.Type).Column(c.Name, &column.ServerContext{})
	if err != nil {
		return nil, fmt.Errorf("column %s: type %q: %w", c.Name, c.Type, err)
	}
	var valid [256]bool
	for v := range valid {
		valid[v] = col.AppendRow(int8(v)) == nil
	}
	if !valid[0] {
		return nil, fmt.Errorf("column %s: enum has no value 0 for unknown values", c.Name)
	}
	return &valid, nil
}

// Append adds one flow to the batch.
func (b *BlockBuilder) Append(f *record.Flow) {
	for i := range b.columns {
		c := &b.columns[i]
		switch c.kind {
		case record.KindUInt8:
			c.u8 = append(c.u8, uint8(c.uint(f)))
		case record.KindUInt16:
			c.u16 = append(c.u16, uint16(c.uint(f)))
		case record.KindUInt32:
			c.u32 = append(c.u32, uint32(c.uint(f)))
		case record.KindUInt64:
			c.u64 = append(c.u64, c.uint(f))
		case record.KindEnum8:
			v := uint8(c.uint(f))
			if !c.enums[v] {
				v = 0
			}
			c.i8 = append(c.i8, int8(v))
		case record.KindIPv6:
			c.addrs = append(c.addrs, *c.addr(f))
		case record.KindDateTime:
			c.i64 = append(c.i64, unixSeconds(int64(c.uint(f))))
		case record.KindDateTime64ms:
			c.i64 = append(c.i64, int64(c.uint(f)))
		case record.KindString:
			c.strs = append(c.strs, *c.str(f))
		case record.KindFeedSet:
			c.feeds = append(c.feeds, record.FeedSet(c.uint(f)))
		case record.KindCommunityID:
			c.hashes = append(c.hashes, *c.hash(f))
		}
	}
	b.rows++
	b.filled = false
}

// AppendFlows adds every flow of a batch.
func (b *BlockBuilder) AppendFlows(flows []record.Flow) {
	for i := range flows {
		b.Append(&flows[i])
	}
}

// Rows returns the number of flows in the batch.
func (b *BlockBuilder) Rows() int { return b.rows }

// Reset empties the batch, keeping the slices' capacity.
func (b *BlockBuilder) Reset() {
	for i := range b.columns {
		c := &b.columns[i]
		c.u8, c.u16, c.u32, c.u64 = c.u8[:0], c.u16[:0], c.u32[:0], c.u64[:0]
		c.i8, c.i64, c.addrs = c.i8[:0], c.i64[:0], c.addrs[:0]
		clear(c.strs) // drop the references, so enrichment tables can be freed
		c.strs, c.feeds, c.hashes = c.strs[:0], c.feeds[:0], c.hashes[:0]
	}
	b.rows = 0
	b.block.Reset()
	b.filled = false
}

// values returns the column's slice for the batch, as any: the one boxing per
// column per batch.
func (c *columnBuffer) values() any {
	switch c.kind {
	case record.KindUInt8:
		return c.u8
	case record.KindUInt16:
		return c.u16
	case record.KindUInt32:
		return c.u32
	case record.KindUInt64:
		return c.u64
	case record.KindEnum8:
		return c.i8
	case record.KindIPv6:
		return c.addrs
	case record.KindDateTime, record.KindDateTime64ms:
		return c.i64
	case record.KindString:
		return c.strs
	}
	panic("unreachable: kinds are checked in NewBlockBuilder")
}

// serverValues is values for a server batch, which also takes the string
// kinds: a feed set as its names, a Community ID as its text. The server
// path renders each Community ID as a string (one allocation per row); the
// embedded path writes them into the block's bytes.
func (b *BlockBuilder) serverValues(c *columnBuffer) any {
	switch c.kind {
	case record.KindFeedSet:
		if b.feedNames == nil || len(b.feedNames) > maxFeedSetsCached {
			b.feedNames = make(map[record.FeedSet][]string)
		}
		c.feedRows = c.feedRows[:0]
		for _, set := range c.feeds {
			names, ok := b.feedNames[set]
			if !ok {
				names = set.Names([]string{})
				b.feedNames[set] = names
			}
			c.feedRows = append(c.feedRows, names)
		}
		return c.feedRows
	case record.KindCommunityID:
		c.texts = c.texts[:0]
		for _, h := range c.hashes {
			c.texts = append(c.texts, h.String())
		}
		return c.texts
	}
	return c.values()
}

// maxFeedSetsCached bounds the feed-set names cache: sets are combinations
// of at most 64 feeds, so in theory many.
const maxFeedSetsCached = 4096

// EachColumn calls fn once per column, in table order, with the column's name
// and the batch's values as the typed slice clickhouse-go's columnar Append
// takes: []uint8/16/32/64, []int8 for Enum8, [][16]byte for IPv6, []int64 of
// seconds for DateTime and of milliseconds for DateTime64(3), []string for
// strings and Community IDs (their text), [][]string for feed sets. A server
// writer passes them to driver.Batch.Column(i).Append. The slices are only
// valid until the next Append or Reset.
func (b *BlockBuilder) EachColumn(fn func(name string, values any) error) error {
	for i := range b.columns {
		if err := fn(b.columns[i].name, b.serverValues(&b.columns[i])); err != nil {
			return fmt.Errorf("column %s: %w", b.columns[i].name, err)
		}
	}
	return nil
}

// fill copies the batch into the clickhouse-go block, once per batch.
func (b *BlockBuilder) fill() error {
	if b.filled {
		return nil
	}
	b.block.Reset()
	for i := range b.columns {
		c := &b.columns[i]
		if c.blockIndex < 0 {
			continue
		}
		if _, err := b.block.Columns[c.blockIndex].Append(c.values()); err != nil {
			return fmt.Errorf("column %s: %w", c.name, err)
		}
	}
	b.filled = true
	return nil
}

// EncodeNative appends the batch, encoded as ClickHouse Native format (one
// block), to dst and returns the extended slice.
func (b *BlockBuilder) EncodeNative(dst []byte) ([]byte, error) {
	if err := b.fill(); err != nil {
		return dst, fmt.Errorf("fill block: %w", err)
	}
	buf := chproto.Buffer{Buf: dst}
	// The header and the column order are the block's, written here
	// because the block holds only the fixed-size columns.
	buf.PutUVarInt(uint64(len(b.columns)))
	buf.PutUVarInt(uint64(b.rows))
	if err := b.encodeColumns(&buf); err != nil {
		return dst, err
	}
	return buf.Buf, nil
}

// encodeColumns writes every column's Native encoding (name, type, data),
// after a header the caller wrote; the block must be filled.
func (b *BlockBuilder) encodeColumns(buf *chproto.Buffer) error {
	for i := range b.columns {
		c := &b.columns[i]
		if c.blockIndex >= 0 {
			if err := b.block.EncodeColumn(buf, nativeRevision, c.blockIndex); err != nil {
				return fmt.Errorf("encode native block: %w", err)
			}
			continue
		}
		buf.PutString(c.name)
		buf.PutString(c.nativeType)
		c.encodeStrings(buf)
	}
	return nil
}

// encodeStrings writes a self-encoded column's Native data: a String is its
// length and bytes; an Array(String) is every row's end offset (UInt64),
// then all the elements.
func (c *columnBuffer) encodeStrings(buf *chproto.Buffer) {
	switch c.kind {
	case record.KindString:
		for _, s := range c.strs {
			buf.PutString(s)
		}
	case record.KindCommunityID:
		for _, h := range c.hashes {
			if h.IsZero() {
				buf.PutUVarInt(0)
				continue
			}
			buf.PutUVarInt(uint64(communityIDTextLen))
			buf.Buf = h.AppendText(buf.Buf)
		}
	case record.KindFeedSet:
		var end uint64
		for _, set := range c.feeds {
			end += uint64(set.Len())
			buf.PutUInt64(end)
		}
		for _, set := range c.feeds {
			set.Each(buf.PutString)
		}
	}
}

// communityIDTextLen is the length of a Community ID's text form.
var communityIDTextLen = len(record.CommunityID{0: 1}.AppendText(nil))
