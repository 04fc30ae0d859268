package chhttp_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/ch-go/compress"
	chproto "github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
	"sluice/storage/chhttp"
	sluiceclickhouse "sluice/storage/clickhouse"
	"sluice/storage/migrate"
	"sluice/storage/server"
	"sluice/storage/writer"
)

const writerPassword = "writer-secret"

var (
	setupOnce sync.Once
	setupErr  error
	addr      string
)

// testFlows have every kind of column set: IPv4 and IPv6 addresses, MPLS
// labels, NAT, names, threat feeds, a Community ID.
func testFlows() []record.Flow {
	feed, _ := record.RegisterFeed("chhttp-test-feed")
	base := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	flows := make([]record.Flow, 50)
	for i := range flows {
		f := &flows[i]
		t := base.Add(time.Duration(i) * time.Second)
		f.TimeReceived = t.UnixNano() + 123456
		f.TimeFlowStart, f.TimeFlowEnd = t.UnixMilli()-1500, t.UnixMilli()
		f.FlowType = record.FlowTypeIPFIX
		f.ExporterAddress = record.AddrFrom4([4]byte{192, 0, 2, byte(1 + i%3)})
		f.SamplingRate = 100
		f.SrcAddr = record.AddrFrom4([4]byte{10, 0, 0, byte(i)})
		if i%2 == 1 {
			f.DstAddr = record.AddrFromSlice([]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i)})
			f.EType = 0x86dd
		} else {
			f.DstAddr = record.AddrFrom4([4]byte{203, 0, 113, byte(i)})
			f.EType = 0x0800
		}
		f.SrcAS, f.DstAS = 64512+uint32(i%4), 15169
		f.Proto, f.SrcPort, f.DstPort = 6, uint16(40000+i), 443
		f.TCPFlags = 0x12
		f.InIfIndex, f.OutIfIndex = 1, 2
		f.MPLS1stLabel, f.MPLS2ndLabel = 100+uint32(i), 200
		f.SrcAddrNAT, f.SrcPortNAT = record.AddrFrom4([4]byte{198, 51, 100, 1}), 5000
		f.ExporterName, f.InIfName, f.OutIfName = "edge-1", "et-0/0/1", "et-0/0/2"
		f.InIfBoundary, f.OutIfBoundary = record.BoundaryExternal, record.BoundaryInternal
		f.SrcCountry, f.DstCountry = "FR", "US"
		f.ServiceName = "https"
		f.TrafficDirection = record.TrafficDirection(1 + i%4)
		if i%5 == 0 {
			f.SrcThreatFeeds = feed
		}
		f.CommunityID[0], f.CommunityID[19] = byte(i), 0xff
		f.Bytes, f.Packets = uint64(1000+i), 2
	}
	return flows
}

// start migrates the engine, stores the test flows once and serves the
// interface on a free loopback port, with the writer user on.
func start(t *testing.T) string {
	t.Helper()
	setupOnce.Do(func() {
		ctx := context.Background()
		r := reporter.New(slog.New(slog.DiscardHandler))
		m, err := migrate.New(r, migrate.Config{})
		if err != nil {
			setupErr = err
			return
		}
		if setupErr = m.Migrate(ctx, engine.Exec); setupErr != nil {
			return
		}
		w, err := writer.New(r, writer.DefaultConfig(), writer.Dependencies{Inserter: engine})
		if err != nil {
			setupErr = err
			return
		}
		if setupErr = w.Write(ctx, testFlows(), "chhttp-test"); setupErr != nil {
			return
		}
		cfg := chhttp.DefaultConfig()
		cfg.Listen = "127.0.0.1:0"
		cfg.Writer, cfg.WriterPassword = true, writerPassword
		s, err := chhttp.New(r, cfg, chhttp.Dependencies{Engine: engine})
		if err != nil {
			setupErr = err
			return
		}
		if setupErr = s.Start(ctx); setupErr != nil {
			return
		}
		addr = s.Addr() // left running: the test process ends with it
	})
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	return addr
}

// open connects clickhouse-go over HTTP as the given user.
func open(t *testing.T, user, password string, compression *clickhouse.Compression) clickhouse.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{start(t)},
		Protocol:    clickhouse.HTTP,
		Auth:        clickhouse.Auth{Username: user, Password: password, Database: "sluice"},
		Compression: compression,
		DialTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestPingAndVersion(t *testing.T) {
	conn := open(t, "default", "", nil)
	if err := conn.Ping(t.Context()); err != nil {
		t.Fatalf("ping: %v", err)
	}
	v, err := conn.ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	var version string
	if err := conn.QueryRow(t.Context(), "SELECT version()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version == "" || !strings.HasPrefix(version, fmt.Sprint(v.Version.Major)) {
		t.Errorf("version() = %q, server version %v", version, v)
	}
	resp, err := http.Get("http://" + start(t) + "/ping")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "Ok.\n" {
		t.Errorf("/ping = %d %q", resp.StatusCode, body)
	}
}

// TestEveryFlowsColumn reads every column of flows through clickhouse-go
// over HTTP (Native, re-framed for its revision) and compares each value
// with the engine's own Native output of the same query on the read-only
// path, decoded at revision 0, and a few with what was stored.
func TestEveryFlowsColumn(t *testing.T) {
	conn := open(t, "default", "", nil)
	const query = "SELECT * FROM sluice.flows ORDER BY TimeReceived"
	rows, err := conn.Query(t.Context(), query)
	if err != nil {
		t.Fatal(err)
	}
	types := rows.ColumnTypes()
	var got [][]any
	for rows.Next() {
		vals := make([]any, len(types))
		for i, ct := range types {
			vals[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(vals...); err != nil {
			t.Fatal(err)
		}
		for i := range vals {
			vals[i] = reflect.ValueOf(vals[i]).Elem().Interface()
		}
		got = append(got, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()

	native, err := engine.QueryReadOnly(t.Context(), query, "Native")
	if err != nil {
		t.Fatal(err)
	}
	var want [][]any
	seen := map[string]bool{}
	src := bytes.NewReader(native)
	reader := chproto.NewReader(src)
	for src.Len() > 0 {
		block := proto.Block{ServerContext: &column.ServerContext{Timezone: time.UTC}}
		if err := block.Decode(reader, 0); err != nil {
			t.Fatal(err)
		}
		for r := 0; r < block.Rows(); r++ {
			row := make([]any, len(block.Columns))
			for c, col := range block.Columns {
				row[c] = col.Row(r, false)
				seen[string(col.Type())] = true
			}
			want = append(want, row)
		}
	}
	if len(got) != len(testFlows()) || len(want) != len(got) {
		t.Fatalf("rows: HTTP %d, engine %d, stored %d", len(got), len(want), len(testFlows()))
	}
	for r := range got {
		for c := range got[r] {
			if !reflect.DeepEqual(normalize(got[r][c]), normalize(want[r][c])) {
				t.Errorf("row %d column %s (%s): HTTP %#v, engine %#v", r, types[c].Name(), types[c].DatabaseTypeName(), got[r][c], want[r][c])
			}
		}
	}
	t.Logf("%d rows × %d columns, types: %v", len(got), len(types), keys(seen))

	// And what was stored, for a few columns.
	var (
		dst   string
		mpls  uint32
		bytes uint64
	)
	if err := conn.QueryRow(t.Context(), "SELECT toString(DstAddr), MPLS1stLabel, Bytes FROM sluice.flows ORDER BY TimeReceived LIMIT 1 OFFSET 1").Scan(&dst, &mpls, &bytes); err != nil {
		t.Fatal(err)
	}
	if dst != "2001:db8::1" || bytes != 1001 || mpls != 101 {
		t.Errorf("row 1: DstAddr %s, MPLS1stLabel %d, Bytes %d", dst, mpls, bytes)
	}
}

// normalize makes values of pointer and value scan types comparable.
func normalize(v any) any {
	rv := reflect.ValueOf(v)
	for rv.IsValid() && rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	if !rv.IsValid() {
		return nil
	}
	if t, ok := rv.Interface().(time.Time); ok {
		return t.UnixNano()
	}
	return rv.Interface()
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestServerSideParameters(t *testing.T) {
	conn := open(t, "default", "", nil)
	ctx := clickhouse.Context(t.Context(), clickhouse.WithParameters(clickhouse.Parameters{"port": "40003", "name": "edge-1'; DROP TABLE flows"}))
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM sluice.flows WHERE SrcPort = {port:UInt16} AND ExporterName != {name:String}").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("count = %d, want 1", n)
	}
	// A parameter of one query does not reach the next: a String one,
	// which the '' it is reset to would otherwise answer.
	var s string
	err := conn.QueryRow(t.Context(), "SELECT {name:String}").Scan(&s)
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) || ex.Code != 456 {
		t.Errorf("a parameter of an earlier query: %q, %v; want code 456 (UNKNOWN_QUERY_PARAMETER)", s, err)
	}
}

func TestQueryErrorIsException(t *testing.T) {
	conn := open(t, "default", "", nil)
	err := conn.QueryRow(t.Context(), "SELECT nosuchcolumn FROM sluice.flows").Scan(new(any))
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) || ex.Code != 47 {
		t.Fatalf("err = %v (%T), want *clickhouse.Exception with code 47 (UNKNOWN_IDENTIFIER)", err, err)
	}
	err = conn.QueryRow(t.Context(), "SELEC 1").Scan(new(any))
	if !errors.As(err, &ex) || ex.Code != 62 {
		t.Fatalf("err = %v, want code 62 (SYNTAX_ERROR)", err)
	}
}

func TestGzip(t *testing.T) {
	conn := open(t, "default", "", &clickhouse.Compression{Method: clickhouse.CompressionGZIP})
	var n uint64
	if err := conn.QueryRow(t.Context(), "SELECT count() FROM sluice.flows").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != uint64(len(testFlows())) {
		t.Errorf("count = %d", n)
	}
	// And with curl's request: the body is gzip only when asked both ways.
	req, _ := http.NewRequest("GET", "http://"+start(t)+"/?enable_http_compression=1&query="+url.QueryEscape("SELECT 42"), nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding = %q", resp.Header.Get("Content-Encoding"))
	}
	gz, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(gz)
	if string(body) != "42\n" {
		t.Errorf("body = %q", body)
	}
}

func TestWrongPasswordRefused(t *testing.T) {
	for _, user := range []string{"default", migrate.AnalystUser, migrate.WriterUser, "nobody"} {
		conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{start(t)}, Protocol: clickhouse.HTTP,
			Auth: clickhouse.Auth{Username: user, Password: "wrong"}})
		if err == nil {
			err = conn.Ping(t.Context())
			conn.Close()
		}
		var ex *clickhouse.Exception
		if !errors.As(err, &ex) || ex.Code != 516 {
			t.Errorf("%s with a wrong password: %v, want code 516 (AUTHENTICATION_FAILED)", user, err)
		}
	}
}

// TestReadOnlyRefusals sends what an analyst must not run, over curl's
// plain HTTP, and checks ClickHouse's error shape and that the data is
// intact afterwards.
func TestReadOnlyRefusals(t *testing.T) {
	a := start(t)
	for _, q := range []string{
		"INSERT INTO sluice.flows (Bytes) VALUES (1)",
		"CREATE TABLE sluice.x (a UInt8) ENGINE = Memory",
		"DROP TABLE sluice.flows",
		"TRUNCATE TABLE sluice.flows",
		"ALTER TABLE sluice.flows DELETE WHERE 1",
		"SELECT * FROM file('/etc/passwd', 'LineAsString')",
		"SELECT * FROM url('http://127.0.0.1:1/', CSV, 'a String')",
		"SELECT * FROM s3('http://127.0.0.1:1/b/k', CSV, 'a String')",
		"SELECT * FROM remote('127.0.0.1', system.one)",
		"SELECT * FROM mysql('127.0.0.1:3306', 'd', 't', 'u', 'p')",
		"SELECT * FROM executable('x.sh', CSV, 'a String')",
		"SELECT * FROM input('a String')",
		"SYSTEM DROP DNS CACHE",
		"SET readonly = 0",
		"SELECT 1 SETTINGS readonly = 0",
		"SELECT 1 INTO OUTFILE '/tmp/x'",
		"SELECT 1; DROP TABLE sluice.flows",
	} {
		resp, err := http.Post("http://"+a+"/", "text/plain", strings.NewReader(q))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		code := resp.Header.Get("X-ClickHouse-Exception-Code")
		if resp.StatusCode == 200 || code == "" || !strings.HasPrefix(string(body), "Code: "+code+". DB::Exception: ") {
			t.Errorf("%s: %d, code %q, body %q", q, resp.StatusCode, code, body)
		}
	}
	// A setting that would lift a limit or readonly, in the URL.
	for _, p := range []string{"readonly=0", "allow_ddl=1", "max_threads=1000"} {
		resp, err := http.Get("http://" + a + "/?query=SELECT+1&" + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 500 || resp.Header.Get("X-ClickHouse-Exception-Code") != "164" {
			t.Errorf("?%s: %d code %s", p, resp.StatusCode, resp.Header.Get("X-ClickHouse-Exception-Code"))
		}
	}
	conn := open(t, "default", "", nil)
	var n uint64
	if err := conn.QueryRow(t.Context(), "SELECT count() FROM sluice.flows").Scan(&n); err != nil || n != uint64(len(testFlows())) {
		t.Errorf("after the refusals: count %d, %v", n, err)
	}
}

func TestHeadersAndFormats(t *testing.T) {
	a := start(t)
	get := func(q string, h http.Header) (*http.Response, string) {
		req, _ := http.NewRequest("POST", "http://"+a+"/?"+q, strings.NewReader(""))
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	resp, body := get("query="+url.QueryEscape("SELECT 1 AS x, 'a' AS y")+"&query_id=q-1", nil)
	if body != "1\ta\n" || resp.Header.Get("X-ClickHouse-Format") != "TabSeparated" || resp.Header.Get("X-ClickHouse-Query-Id") != "q-1" ||
		resp.Header.Get("X-ClickHouse-Timezone") == "" || resp.Header.Get("X-ClickHouse-Summary") == "" || resp.Header.Get("X-ClickHouse-Server-Display-Name") == "" {
		t.Errorf("default format: %q, headers %v", body, resp.Header)
	}
	resp, body = get("query="+url.QueryEscape("SELECT 1 AS x FORMAT JSONEachRow")+"&default_format=CSV", nil)
	if body != "{\"x\":1}\n" || resp.Header.Get("X-ClickHouse-Format") != "JSONEachRow" {
		t.Errorf("FORMAT clause: %q, format %s", body, resp.Header.Get("X-ClickHouse-Format"))
	}
	resp, body = get("default_format=CSV&database=sluice&query="+url.QueryEscape("SELECT count() FROM flows"), nil)
	if body != fmt.Sprintf("%d\n", len(testFlows())) {
		t.Errorf("database=sluice: %d %q", resp.StatusCode, body)
	}
	resp, body = get("query="+url.QueryEscape("SELECT {n:UInt8} + 1")+"&param_n=41", http.Header{"X-Clickhouse-User": {"default"}})
	if body != "42\n" {
		t.Errorf("param_n: %d %q", resp.StatusCode, body)
	}
	resp, _ = http.Get("http://" + a + "/nosuch")
	if resp.StatusCode != 404 {
		t.Errorf("/nosuch: %d", resp.StatusCode)
	}
	resp.Body.Close()
}

// TestConnectMetadataQueries runs what clients and Grafana's plugin send
// on connect.
func TestConnectMetadataQueries(t *testing.T) {
	conn := open(t, "default", "", nil)
	for _, q := range []string{
		"SELECT displayName(), version(), revision(), timezone()",
		"SHOW DATABASES",
		"SELECT name, value FROM system.settings WHERE name = 'max_execution_time'",
		"SELECT name FROM system.tables WHERE database = 'sluice'",
		"SELECT name, type FROM system.columns WHERE database = 'sluice' AND table = 'flows'",
		"DESC TABLE sluice.flows",
		"SELECT name FROM system.databases",
		"SHOW TABLES FROM sluice",
	} {
		rows, err := conn.Query(t.Context(), q)
		if err != nil {
			t.Errorf("%s: %v", q, err)
			continue
		}
		n := 0
		for rows.Next() {
			n++
		}
		if err := rows.Err(); err != nil || n == 0 {
			t.Errorf("%s: %d rows, %v", q, n, err)
		}
		rows.Close()
	}
}

func TestWriterUser(t *testing.T) {
	conn := open(t, migrate.WriterUser, writerPassword, nil)
	if err := conn.Exec(t.Context(), "CREATE TABLE IF NOT EXISTS sluice.chhttp_writer (a UInt32, s String) ENGINE = MergeTree ORDER BY a"); err != nil {
		t.Fatal(err)
	}
	batch, err := conn.PrepareBatch(t.Context(), "INSERT INTO sluice.chhttp_writer")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := batch.Append(uint32(i), fmt.Sprint("row ", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	var n uint64
	if err := conn.QueryRow(t.Context(), "SELECT count() FROM sluice.chhttp_writer").Scan(&n); err != nil || n != 10 {
		t.Errorf("count %d, %v", n, err)
	}
}

// TestCompressedBlocks: compress=1 (ClickHouse's Java client and JDBC ask
// for it by default, clickhouse-go with LZ4 or ZSTD) frames the result in
// ClickHouse's compressed blocks: LZ4 unless network_compression_method
// says otherwise, at most 1 MiB of result each.
func TestCompressedBlocks(t *testing.T) {
	for _, method := range []clickhouse.CompressionMethod{clickhouse.CompressionLZ4, clickhouse.CompressionZSTD} {
		conn := open(t, "default", "", &clickhouse.Compression{Method: method})
		rows, err := conn.Query(t.Context(), "SELECT SrcAddr, DstAddr, FlowType, TimeFlowStart FROM sluice.flows ORDER BY TimeReceived")
		if err != nil {
			t.Fatalf("clickhouse-go with %s: %v", method, err)
		}
		n := 0
		for rows.Next() {
			n++
		}
		if err := rows.Err(); err != nil || n != len(testFlows()) {
			t.Fatalf("clickhouse-go with %s: %d rows, %v", method, n, err)
		}
	}
	// The method byte of the first block (after the 16-byte checksum):
	// 0x82 LZ4, 0x90 ZSTD.
	for _, c := range []struct {
		query, method string
		byte          byte
	}{
		{"SELECT number FROM numbers(300000)", "", 0x82}, // 2 MB of text: two blocks
		{"SELECT number FROM numbers(1000)", "zstd", 0x90},
		{"SELECT 42", "lz4", 0x82},
		{"SELECT randomString(2000000) FORMAT RowBinary", "", 0x82}, // incompressible
	} {
		plain := getOK(t, url.Values{"query": {c.query}}, nil)
		framed := getOK(t, url.Values{"query": {c.query}, "compress": {"1"}, "network_compression_method": {c.method}}, nil)
		if len(framed) < 17 || framed[16] != c.byte {
			t.Errorf("%s: first block's method %#x, want %#x", c.query, framed[min(len(framed)-1, 16)], c.byte)
		}
		body, err := readBlocks(framed)
		if err != nil {
			t.Fatalf("%s: reading the compressed blocks: %v", c.query, err)
		}
		if strings.Contains(c.query, "random") {
			if len(body) != len(plain) { // random each time: the length only
				t.Errorf("%s: %d bytes compressed, %d plain", c.query, len(body), len(plain))
			}
		} else if !bytes.Equal(body, plain) {
			t.Errorf("%s: %q compressed, %q plain", c.query, body[:min(len(body), 64)], plain[:min(len(plain), 64)])
		}
	}
}

// readBlocks reads compressed blocks to their end (ch-go's reader says
// io.EOF wrapped).
func readBlocks(framed []byte) ([]byte, error) {
	r := compress.NewReader(bytes.NewReader(framed))
	var out []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// TestFormatAndDatabaseHeaders: the format and database may come as
// X-ClickHouse-Format and X-ClickHouse-Database request headers, as
// ClickHouse's Java client (JDBC) sends them; the URL parameters win.
func TestFormatAndDatabaseHeaders(t *testing.T) {
	headers := http.Header{"X-Clickhouse-Format": {"JSONEachRow"}, "X-Clickhouse-Database": {"sluice"}}
	body := getOK(t, url.Values{"query": {"SELECT count() AS n FROM flows"}}, headers)
	if string(body) != "{\"n\":\"50\"}\n" && string(body) != "{\"n\":50}\n" {
		t.Errorf("with the headers: %q", body)
	}
	body = getOK(t, url.Values{"query": {"SELECT count() AS n FROM flows"}, "default_format": {"TSV"}}, headers)
	if string(body) != "50\n" {
		t.Errorf("default_format TSV beside the header: %q", body)
	}
}

// getOK answers a GET as user default and fails the test unless it is 200.
func getOK(t *testing.T, q url.Values, headers http.Header) []byte {
	t.Helper()
	status, _, body := get(t, q, headers)
	if status != http.StatusOK {
		t.Fatalf("%s: %d: %s", q.Get("query"), status, body)
	}
	return []byte(body)
}

// TestServerBackend drives the interface as `sluice pipeline --backend
// server` does with protocol http (storage/server as the writer's
// Inserter): a second batch under the first one's deduplication token is
// not stored, and its read-only queries run as the writer asking for readonly,
// refused writes included.
func TestServerBackend(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.Addrs, cfg.Protocol = []string{start(t)}, server.ProtocolHTTP
	cfg.Username, cfg.Password = migrate.WriterUser, writerPassword
	r := reporter.New(slog.New(slog.DiscardHandler))
	srv, err := server.New(r, cfg, server.Dependencies{})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(context.Background())
	const table = "sluice.chhttp_server_flows"
	if err := srv.Exec(t.Context(), "CREATE TABLE IF NOT EXISTS "+table+" AS "+migrate.FlowsTable); err != nil {
		t.Fatal(err)
	}
	wcfg := writer.DefaultConfig()
	wcfg.Table = table
	w, err := writer.New(r, wcfg, writer.Dependencies{Inserter: srv})
	if err != nil {
		t.Fatal(err)
	}
	// The second write reuses the token with other rows: only the token
	// (not the block's hash, which deduplicates an identical replay
	// anyway) makes it store nothing.
	for _, flows := range [][]record.Flow{testFlows(), testFlows()[:10]} {
		if err := w.Write(t.Context(), flows, "chhttp-server-backend"); err != nil {
			t.Fatal(err)
		}
	}
	out, err := srv.QueryReadOnly(t.Context(), "SELECT count(), sum(Bytes) FROM chhttp_server_flows", "TSV")
	if err != nil || string(out) != "50\t51225\n" {
		t.Fatalf("stored %q, %v; want 50 rows once", out, err)
	}
	_, err = srv.QueryReadOnly(t.Context(), "DROP TABLE "+table, "TSV")
	var qe *server.QueryError
	if !errors.As(err, &qe) || qe.Code == 0 || sluiceclickhouse.ExceptionCode(err) != qe.Code {
		t.Fatalf("DROP TABLE on the read-only path: %v, want the engine's refusal with its code", err)
	}
	if out, err := srv.Query(t.Context(), "SELECT count() FROM "+table, "TSV"); err != nil || string(out) != "50\n" {
		t.Fatalf("after the refused DROP: %q, %v", out, err)
	}
}
