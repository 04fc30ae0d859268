package chhttp

import (
	"bytes"
	"fmt"
	"time"

	chproto "github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"
)

// reframeNative rewrites the engine's Native output, which is revision 0
// (no BlockInfo, no serialization-kind byte per column), for a client that
// announced client_protocol_version: the engine has no setting for it
// (chDB 26.7 knows no client_protocol_version), so each block is decoded
// with clickhouse-go's own block code at revision 0 and encoded again at
// the client's revision, capped at what that code knows.
func reframeNative(data []byte, revision uint64) ([]byte, error) {
	revision = min(revision, proto.DBMS_TCP_PROTOCOL_VERSION)
	src := bytes.NewReader(data)
	reader := chproto.NewReader(src)
	out := &chproto.Buffer{Buf: make([]byte, 0, len(data)+len(data)/16+64)}
	for n := 0; src.Len() > 0; n++ {
		block := proto.Block{ServerContext: &column.ServerContext{Timezone: time.UTC}}
		if err := block.Decode(reader, 0); err != nil {
			return nil, fmt.Errorf("decode block %d: %w", n, err)
		}
		if err := block.Encode(out, revision); err != nil {
			return nil, fmt.Errorf("encode block %d: %w", n, err)
		}
	}
	return out.Buf, nil
}
