package chhttp

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
	"time"

	chproto "github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"
)

// reframeNative rewrites the engine's Native output, which is revision 0
// (no BlockInfo, no serialization-kind byte per column), for a client that
// announced client_protocol_version: the engine has no setting for it
// (chDB 26.7 knows no client_protocol_version, and its
// output_format_native_encode_types_in_binary_format changes the types,
// not the framing), so each block is decoded with clickhouse-go's own
// block code at revision 0 and encoded again at the client's revision,
// capped at what that code knows.
//
// That code does not know every type's serialization (Nothing, Interval,
// AggregateFunction): it may read a column short and lose rows without an
// error. So the decoded blocks are encoded again at revision 0 and must
// give back the engine's bytes exactly, and the output must decode to as
// many blocks, rows and columns; otherwise the client gets
// NOT_IMPLEMENTED naming the types, never wrong data.
func reframeNative(data []byte, revision uint64) ([]byte, error) {
	revision = min(revision, proto.DBMS_TCP_PROTOCOL_VERSION)
	blocks, err := decodeNative(data, 0)
	if err != nil {
		return nil, notCarried(revision, blockTypes(blocks, data), err)
	}
	same := &chproto.Buffer{Buf: make([]byte, 0, len(data))}
	out := &chproto.Buffer{Buf: make([]byte, 0, len(data)+len(data)/16+64)}
	for n, block := range blocks {
		if err := encodeBlock(block, same, 0); err != nil {
			return nil, notCarried(revision, blockTypes(blocks, data), fmt.Errorf("encode block %d: %w", n, err))
		}
		if err := encodeBlock(block, out, revision); err != nil {
			return nil, notCarried(revision, blockTypes(blocks, data), fmt.Errorf("encode block %d: %w", n, err))
		}
	}
	if !bytes.Equal(same.Buf, data) {
		return nil, notCarried(revision, blockTypes(blocks, data), fmt.Errorf("encoding the decoded blocks gives other bytes than the engine's"))
	}
	again, err := decodeNative(out.Buf, revision)
	if err == nil && len(again) != len(blocks) {
		err = fmt.Errorf("%d blocks became %d", len(blocks), len(again))
	}
	for i := 0; err == nil && i < len(again); i++ {
		if again[i].Rows() != blocks[i].Rows() || len(again[i].Columns) != len(blocks[i].Columns) {
			err = fmt.Errorf("block %d: %d×%d became %d×%d", i, blocks[i].Rows(), len(blocks[i].Columns), again[i].Rows(), len(again[i].Columns))
		}
	}
	if err != nil {
		return nil, notCarried(revision, blockTypes(blocks, data), err)
	}
	return out.Buf, nil
}

// encodeBlock encodes a block as ClickHouse's NativeWriter does. An empty
// block carries the columns' names and types and no data: clickhouse-go's
// Block.Encode writes a LowCardinality column's state prefix even at zero
// rows, which neither the engine writes nor clickhouse-go's own decoder
// reads (it reads column data only when there are rows).
func encodeBlock(block *proto.Block, buf *chproto.Buffer, revision uint64) error {
	if block.Rows() != 0 {
		return block.Encode(buf, revision)
	}
	if err := block.EncodeHeader(buf, revision); err != nil {
		return err
	}
	for _, c := range block.Columns {
		buf.PutString(c.Name())
		buf.PutString(string(c.Type()))
		if revision >= proto.DBMS_MIN_REVISION_WITH_CUSTOM_SERIALIZATION {
			buf.PutBool(false)
		}
	}
	return nil
}

// readerSize is ch-go's proto.Reader buffer size.
const readerSize = 1 << 20

// decodeNative decodes every block of a Native stream at a revision.
func decodeNative(data []byte, revision uint64) ([]*proto.Block, error) {
	// chproto.NewReader keeps a bufio.Reader of its size as it is, so
	// Peek tells where the stream ends (the bytes.Reader under it is read
	// ahead).
	buffered := bufio.NewReaderSize(bytes.NewReader(data), readerSize)
	reader := chproto.NewReader(buffered)
	var blocks []*proto.Block
	for n := 0; ; n++ {
		if _, err := buffered.Peek(1); err != nil {
			return blocks, nil // the end
		}
		block := &proto.Block{ServerContext: &column.ServerContext{Timezone: time.UTC}}
		if err := block.Decode(reader, revision); err != nil {
			return blocks, fmt.Errorf("decode block %d: %w", n, err)
		}
		blocks = append(blocks, block)
	}
}

// blockTypes names the columns and types of the first block: decoded, or
// read from the stream's header when the decoding failed first.
func blockTypes(blocks []*proto.Block, data []byte) string {
	var names []string
	if len(blocks) > 0 {
		for i, c := range blocks[0].Columns {
			names = append(names, blocks[0].ColumnsNames()[i]+" "+string(c.Type()))
		}
		return strings.Join(names, ", ")
	}
	r := chproto.NewReader(bytes.NewReader(data))
	cols, err1 := r.UVarInt()
	_, err2 := r.UVarInt()
	if err1 != nil || err2 != nil || cols > 1<<16 {
		return "unknown"
	}
	// Only the first column's name and type precede any column data.
	name, err1 := r.Str()
	typ, err2 := r.Str()
	if err1 != nil || err2 != nil {
		return "unknown"
	}
	return name + " " + typ
}

// notCarried is the client's error for a result the re-framing cannot
// carry faithfully.
func notCarried(revision uint64, types string, err error) error {
	return fmt.Errorf("Native for client revision %d: %v: %w", revision, err, &chError{code: codeNotImplemented, reason: "native",
		message: fmt.Sprintf("Code: %d. DB::Exception: sluice cannot re-frame this result as Native for the client's protocol revision (columns %s): use another format (RowBinary, JSON), a client without client_protocol_version, or cast the column to a common type. (NOT_IMPLEMENTED)",
			codeNotImplemented, types)})
}
