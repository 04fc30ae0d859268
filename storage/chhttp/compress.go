package chhttp

import (
	"github.com/ClickHouse/ch-go/compress"
)

// compressBlockSize is ClickHouse's max_compress_block_size: the result is
// cut into blocks of at most this many bytes before compression.
const compressBlockSize = 1 << 20

// compressMethods are network_compression_method's values, the method of
// compress=1's blocks: LZ4 unless the client asks otherwise (clickhouse-go
// with ZSTD does).
var compressMethods = map[string]compress.Method{
	"": compress.LZ4, "lz4": compress.LZ4, "lz4hc": compress.LZ4HC, "zstd": compress.ZSTD, "none": compress.None,
}

// compressBlocks frames a result as ClickHouse does for compress=1, the
// response compression ClickHouse's Java client (JDBC) asks for by
// default, and clickhouse-go with LZ4 or ZSTD: blocks of checksum
// (CityHash128), method, compressed and raw sizes, and the compressed data
// (ch-go's block writer, which clickhouse-go's native protocol uses).
func compressBlocks(out []byte, method compress.Method) ([]byte, error) {
	w := compress.NewWriter(compress.LevelZero, method)
	framed := make([]byte, 0, len(out)/2+64)
	for len(out) > 0 {
		chunk := out[:min(len(out), compressBlockSize)]
		out = out[len(chunk):]
		if err := w.Compress(chunk); err != nil {
			return nil, err
		}
		framed = append(framed, w.Data...)
	}
	return framed, nil
}
