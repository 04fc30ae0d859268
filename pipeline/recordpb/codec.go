// Package recordpb is the published wire encoding of the canonical flow
// record (record.Flow): a protobuf schema, flow.proto, generated from
// record.Columns, and a hand-written codec for it that allocates nothing.
//
// The codec is what sluice runs. The code protoc-gen-go generates from
// flow.proto (package flowpb) is the reference for third parties and for the
// tests that check the two agree; it is not used on the hot path, because it
// needs a message object per record and copies every address into a slice.
//
// The Kafka framing (one FlowBatch of one exporter's flows per message, the
// topic and header naming the schema version) is described in flow.proto and
// README.md.
package recordpb

//go:generate go test -run ^TestProtoSchemaGolden$ -update .
//go:generate protoc --go_out=flowpb --go_opt=paths=source_relative flow.proto
//
// The second step needs protoc (Debian: apt-get install protobuf-compiler) and
// protoc-gen-go on PATH:
//   GOBIN=$(mktemp -d) go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
//   PATH=$GOBIN:$PATH go generate ./pipeline/recordpb

import (
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"sluice/pipeline/record"
)

// Schema version and how it is announced on Kafka.
const (
	// SchemaVersion is the version of flow.proto, the last part of its
	// package name (sluice.record.v1).
	SchemaVersion = "v1"
	// SchemaHeader is the Kafka header every message carries, with value
	// SchemaVersion, so a consumer can check what it reads.
	SchemaHeader = "sluice-schema"
	// DefaultTopic is the default Kafka topic: the version is part of its
	// name, so an incompatible schema gets a new topic.
	DefaultTopic = "sluice-flows-" + SchemaVersion
)

// batchFlowsField is FlowBatch.flows.
const batchFlowsField protowire.Number = 1

// addrLen is the wire length of an address field.
const addrLen = len(record.Addr{})

// fieldCodec is one column prepared for encoding and decoding.
type fieldCodec struct {
	column *record.Column
	// key is the field's tag (number and wire type), ready to append.
	key uint64
	// max is the largest value the Go field holds; a decoded value above it
	// is an error rather than silently truncated.
	max uint64
}

var (
	// codecs holds the columns in table order, which is field order in the
	// .proto, so AppendFlow writes fields in the order protoc-gen-go does.
	codecs []fieldCodec
	// byField finds a column's codec by field number; nil for unknown fields.
	byField []*fieldCodec
)

func init() {
	codecs = make([]fieldCodec, len(record.Columns))
	var maxField protowire.Number
	for i := range record.Columns {
		c := &record.Columns[i]
		wireType := protowire.VarintType
		switch c.Kind {
		case record.KindIPv6, record.KindString, record.KindFeedSet, record.KindCommunityID:
			wireType = protowire.BytesType
		}
		codecs[i] = fieldCodec{
			column: c,
			key:    protowire.EncodeTag(c.Field, wireType),
			max:    maxValue(c.Kind),
		}
		maxField = max(maxField, c.Field)
	}
	byField = make([]*fieldCodec, maxField+1)
	for i := range codecs {
		byField[codecs[i].column.Field] = &codecs[i]
	}
}

func maxValue(k record.Kind) uint64 {
	switch k {
	case record.KindUInt8, record.KindEnum8:
		return math.MaxUint8
	case record.KindUInt16:
		return math.MaxUint16
	case record.KindUInt32:
		return math.MaxUint32
	}
	// UInt64, and times, whose int64 travels as its 64 bits.
	return math.MaxUint64
}

// MaxStringLen is the longest string value on the wire: AppendFlow cuts a
// longer one (at a UTF-8 character boundary), so that a record's encoding
// stays bounded (MaxFlowSize). Enrichment values are names, sites and
// descriptions, far shorter (an SNMP ifAlias is at most 64 bytes, a sysName
// 255).
const MaxStringLen = 255

// maxFlowSize is MaxFlowSize's answer, computed once.
var maxFlowSize = func() int {
	n := 0
	for i := range record.Columns {
		c := &record.Columns[i]
		tag := protowire.SizeTag(c.Field)
		switch c.Kind {
		case record.KindIPv6:
			n += tag + 1 + addrLen
		case record.KindString:
			n += tag + protowire.SizeBytes(MaxStringLen)
		case record.KindCommunityID:
			n += tag + 1 + len(record.CommunityID{})
		case record.KindFeedSet:
			n += record.MaxFeeds * (tag + protowire.SizeBytes(record.MaxFeedNameLen))
		default:
			n += tag + protowire.SizeVarint(maxValue(c.Kind))
		}
	}
	return n
}()

// wireString is s as AppendFlow sends it: at most MaxStringLen bytes, cut
// at a character boundary.
func wireString(s string) string {
	if len(s) <= MaxStringLen {
		return s
	}
	// Back up over at most one partial character: on a string that is
	// not UTF-8 (which the sources avoid), cut at the limit.
	cut := MaxStringLen
	for back := 0; back < utf8.UTFMax-1 && cut > 0 && !utf8.RuneStart(s[cut]); back++ {
		cut--
	}
	if !utf8.RuneStart(s[cut]) {
		cut = MaxStringLen
	}
	return s[:cut]
}

// MaxFlowSize is the largest encoding of any record, as AppendFlow writes it;
// AppendBatchFlow adds at most MaxFlowSize+4 bytes. Producers use it to cut
// batches below a size limit without measuring each record.
func MaxFlowSize() int { return maxFlowSize }

// FlowSize returns the length of f's encoding, as AppendFlow writes it.
func FlowSize(f *record.Flow) int {
	n := 0
	for i := range codecs {
		c := &codecs[i]
		tag := protowire.SizeVarint(c.key)
		switch c.column.Kind {
		case record.KindIPv6:
			if !c.column.Addr(f).IsZero() {
				n += tag + 1 + addrLen
			}
		case record.KindString:
			if s := wireString(*c.column.Str(f)); s != "" {
				n += tag + protowire.SizeBytes(len(s))
			}
		case record.KindCommunityID:
			if !c.column.Hash(f).IsZero() {
				n += tag + 1 + len(record.CommunityID{})
			}
		case record.KindFeedSet:
			record.FeedSet(c.column.Uint(f)).Each(func(name string) {
				n += tag + protowire.SizeBytes(len(name))
			})
		default:
			if v := c.column.Uint(f); v != 0 {
				n += tag + protowire.SizeVarint(v)
			}
		}
	}
	return n
}

// AppendFlow appends f encoded as a Flow message to dst and returns the
// extended slice. As proto3 does, zero values are left out; fields are written
// in field-number order, so the bytes equal deterministic proto.Marshal's.
func AppendFlow(dst []byte, f *record.Flow) []byte {
	for i := range codecs {
		c := &codecs[i]
		switch c.column.Kind {
		case record.KindIPv6:
			a := c.column.Addr(f)
			if a.IsZero() {
				continue
			}
			dst = protowire.AppendVarint(dst, c.key)
			dst = append(dst, byte(addrLen))
			dst = append(dst, a[:]...)
		case record.KindString:
			if s := wireString(*c.column.Str(f)); s != "" {
				dst = protowire.AppendVarint(dst, c.key)
				dst = protowire.AppendString(dst, s)
			}
		case record.KindCommunityID:
			if h := c.column.Hash(f); !h.IsZero() {
				dst = protowire.AppendVarint(dst, c.key)
				dst = protowire.AppendBytes(dst, h[:])
			}
		case record.KindFeedSet:
			// A repeated string: names, not bits, because bits are only
			// meaningful inside one process.
			for set := record.FeedSet(c.column.Uint(f)); set != 0; {
				var name string
				if set, name = set.Pop(); name == "" {
					continue
				}
				dst = protowire.AppendVarint(dst, c.key)
				dst = protowire.AppendString(dst, name)
			}
		default:
			if v := c.column.Uint(f); v != 0 {
				dst = protowire.AppendVarint(dst, c.key)
				dst = protowire.AppendVarint(dst, v)
			}
		}
	}
	return dst
}

// AppendBatchFlow appends f as one element of FlowBatch.flows: a Kafka message
// value is a sequence of these, and any number of them, including none, is a
// valid FlowBatch.
func AppendBatchFlow(dst []byte, f *record.Flow) []byte {
	dst = protowire.AppendTag(dst, batchFlowsField, protowire.BytesType)
	// The length comes before the record, but measuring the record first
	// (FlowSize) costs a second pass over the columns. Instead, leave room
	// for a 2-byte length, which fits every record of 128 to 16383 bytes (a
	// typical one is about 160), and move the record in the rare other case.
	const reserved = 2
	lengthAt := len(dst)
	dst = append(dst, 0, 0)
	dst = AppendFlow(dst, f)
	n := len(dst) - lengthAt - reserved
	size := protowire.SizeVarint(uint64(n))
	switch {
	case size < reserved:
		copy(dst[lengthAt+size:], dst[lengthAt+reserved:])
		dst = dst[:len(dst)-(reserved-size)]
	case size > reserved:
		for range size - reserved {
			dst = append(dst, 0)
		}
		copy(dst[lengthAt+size:], dst[lengthAt+reserved:lengthAt+reserved+n])
	}
	protowire.AppendVarint(dst[:lengthAt], uint64(n))
	return dst
}

// feedsRefused counts feed names decoded but not registered (FeedsRefused).
var feedsRefused atomic.Uint64

// FeedsRefused counts the feed names UnmarshalFlow left out of a record
// because the process's feed registry was full or the name too long.
func FeedsRefused() uint64 { return feedsRefused.Load() }

// ErrMalformed is wrapped by every error about undecodable input.
var ErrMalformed = errors.New("malformed record")

// UnmarshalFlow decodes a Flow message into f, which it resets first. Fields
// it does not know are skipped, so a consumer reads what a newer producer
// writes. A known field with the wrong wire type, an address that is not 16
// bytes, or a value too large for its column is an error wrapping
// ErrMalformed; it names the field and its offset in b.
func UnmarshalFlow(b []byte, f *record.Flow) error {
	f.Reset()
	for offset := 0; offset < len(b); {
		num, wireType, n := protowire.ConsumeTag(b[offset:])
		if n < 0 {
			return fmt.Errorf("%w: field tag at offset %d: %w", ErrMalformed, offset, protowire.ParseError(n))
		}
		valueOffset := offset + n
		var c *fieldCodec
		if int(num) < len(byField) {
			c = byField[num]
		}
		if c == nil {
			n = protowire.ConsumeFieldValue(num, wireType, b[valueOffset:])
			if n < 0 {
				return fmt.Errorf("%w: unknown field %d at offset %d: %w", ErrMalformed, num, offset, protowire.ParseError(n))
			}
			offset = valueOffset + n
			continue
		}
		n, err := c.decode(wireType, b[valueOffset:], f)
		if err != nil {
			return fmt.Errorf("%w: field %s (%d) at offset %d: %w", ErrMalformed, c.column.Name, num, offset, err)
		}
		offset = valueOffset + n
	}
	return nil
}

// decode reads the field's value from the start of b into f and returns its
// length.
func (c *fieldCodec) decode(wireType protowire.Type, b []byte, f *record.Flow) (int, error) {
	switch c.column.Kind {
	case record.KindIPv6, record.KindString, record.KindCommunityID, record.KindFeedSet:
		if wireType != protowire.BytesType {
			return 0, fmt.Errorf("wire type %d, want bytes (%d)", wireType, protowire.BytesType)
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return 0, protowire.ParseError(n)
		}
		return n, c.decodeBytes(v, f)
	}
	if wireType != protowire.VarintType {
		return 0, fmt.Errorf("wire type %d, want varint (%d)", wireType, protowire.VarintType)
	}
	v, n := protowire.ConsumeVarint(b)
	if n < 0 {
		return 0, protowire.ParseError(n)
	}
	if v > c.max {
		return 0, fmt.Errorf("value %d larger than %d", v, c.max)
	}
	c.column.SetUint(f, v)
	return n, nil
}

// decodeBytes stores a length-delimited value.
func (c *fieldCodec) decodeBytes(v []byte, f *record.Flow) error {
	switch c.column.Kind {
	case record.KindIPv6:
		switch len(v) {
		case addrLen:
			*c.column.Addr(f) = record.Addr(v)
		case 0:
			// An explicit empty value is the zero address, as in proto3.
			*c.column.Addr(f) = record.Addr{}
		default:
			return fmt.Errorf("address of %d bytes, want %d", len(v), addrLen)
		}
	case record.KindString:
		if len(v) > MaxStringLen {
			return fmt.Errorf("string of %d bytes, more than %d", len(v), MaxStringLen)
		}
		*c.column.Str(f) = record.Intern(v)
	case record.KindCommunityID:
		switch len(v) {
		case len(record.CommunityID{}):
			*c.column.Hash(f) = record.CommunityID(v)
		case 0:
			*c.column.Hash(f) = record.CommunityID{}
		default:
			return fmt.Errorf("community ID of %d bytes, want %d", len(v), len(record.CommunityID{}))
		}
	case record.KindFeedSet:
		// A name the registry cannot take (full, or too long) is left
		// out and counted, not a reason to lose the record.
		if bit, ok := record.FeedBit(v); ok {
			c.column.SetUint(f, c.column.Uint(f)|uint64(bit))
		} else {
			feedsRefused.Add(1)
		}
	}
	return nil
}

// UnmarshalBatch decodes a FlowBatch (a Kafka message value), appending its
// flows to flows and returning the extended slice; pass a reused slice cut to
// length 0 to decode without allocating. Fields other than flows are skipped.
// On error, the flows decoded before the bad one are returned with it.
func UnmarshalBatch(b []byte, flows []record.Flow) ([]record.Flow, error) {
	for offset := 0; offset < len(b); {
		num, wireType, n := protowire.ConsumeTag(b[offset:])
		if n < 0 {
			return flows, fmt.Errorf("%w: batch field tag at offset %d: %w", ErrMalformed, offset, protowire.ParseError(n))
		}
		valueOffset := offset + n
		if num != batchFlowsField {
			n = protowire.ConsumeFieldValue(num, wireType, b[valueOffset:])
			if n < 0 {
				return flows, fmt.Errorf("%w: unknown batch field %d at offset %d: %w", ErrMalformed, num, offset, protowire.ParseError(n))
			}
			offset = valueOffset + n
			continue
		}
		if wireType != protowire.BytesType {
			return flows, fmt.Errorf("%w: batch flow %d at offset %d: wire type %d, want bytes (%d)",
				ErrMalformed, len(flows), offset, wireType, protowire.BytesType)
		}
		v, n := protowire.ConsumeBytes(b[valueOffset:])
		if n < 0 {
			return flows, fmt.Errorf("%w: batch flow %d at offset %d: %w", ErrMalformed, len(flows), offset, protowire.ParseError(n))
		}
		flows = append(flows, record.Flow{})
		if err := UnmarshalFlow(v, &flows[len(flows)-1]); err != nil {
			return flows[:len(flows)-1], fmt.Errorf("batch flow %d at offset %d: %w", len(flows)-1, offset, err)
		}
		offset = valueOffset + n
	}
	return flows, nil
}
