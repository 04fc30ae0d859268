package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"sluice/internal/reporter"
	"sluice/internal/tlsclient/tlsclienttest"
	"sluice/storage/clickhouse"
	"sluice/storage/migrate"
	"sluice/storage/writer"
)

func TestConfigValidate(t *testing.T) {
	cfg := DefaultConfig()
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "addrs") {
		t.Fatalf("no address: err = %v, want one naming addrs", err)
	}
	cfg.Addrs = []string{"db1:9000", "db2"}
	cfg.Password, cfg.PasswordFile = "x", "/run/secret"
	cfg.TLS.Enabled, cfg.TLS.CertFile = true, "c.pem"
	err = cfg.Validate()
	for _, key := range []string{`"db2" is not host:port`, "password-file", "tls.cert-file"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("err = %v, want one about %s", err, key)
		}
	}
}

// Reads go to the server's HTTP interface: the address of protocol http,
// else ClickHouse's HTTP port on the first native address's host.
func TestHTTPAddress(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Addrs = []string{"db1:9000", "db2:9000"}
	for _, c := range []struct {
		protocol, http string
		tls            bool
		want           string
	}{
		{ProtocolNative, "", false, "db1:8123"},
		{ProtocolNative, "", true, "db1:8443"},
		{ProtocolNative, "proxy:80", false, "proxy:80"},
		{ProtocolHTTP, "", false, "db1:9000"},
	} {
		cfg.Protocol, cfg.HTTPAddress, cfg.TLS.Enabled = c.protocol, c.http, c.tls
		if got := cfg.httpAddress(); got != c.want {
			t.Errorf("%s, http-address %q, tls %v: %s, want %s", c.protocol, c.http, c.tls, got, c.want)
		}
	}
	cfg.Protocol, cfg.HTTPAddress = "grpc", "nohost"
	err := cfg.Validate()
	for _, key := range []string{"protocol", "http-address"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("err = %v, want one about %s", err, key)
		}
	}
}

func TestTLSConfig(t *testing.T) {
	dir := t.TempDir()
	ca, _ := tlsclienttest.WriteSelfSigned(t, dir, "ca")
	cert, key := tlsclienttest.WriteSelfSigned(t, dir, "client")
	cfg := DefaultConfig()
	cfg.TLS = TLSConfig{Enabled: true, CAFile: ca, CertFile: cert, KeyFile: key, ServerName: "ch.example"}
	tc, err := cfg.tlsConfig()
	if err != nil {
		t.Fatal(err)
	}
	if tc.RootCAs == nil || len(tc.Certificates) != 1 || tc.ServerName != "ch.example" || tc.InsecureSkipVerify {
		t.Fatalf("tls config = %+v", tc)
	}
	cfg.TLS.CAFile = key // not a certificate
	if _, err := cfg.tlsConfig(); err == nil || !strings.Contains(err.Error(), "tls.ca-file") {
		t.Fatalf("a key as CA: err = %v", err)
	}
	cfg.TLS.Enabled = false
	if tc, err := cfg.tlsConfig(); tc != nil || err != nil {
		t.Fatalf("TLS off: %v, %v", tc, err)
	}
}

// Start fails fast, naming the address, when nothing listens there.
func TestStartUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := DefaultConfig()
	cfg.Addrs = []string{addr}
	cfg.DialTimeout = 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := New(testReporter(), cfg, Dependencies{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("err = %v, want one naming %s", err, addr)
	}
}

// TestRealServer runs against the ClickHouse server SLUICE_TEST_CLICKHOUSE
// names (host:port of the native protocol; SLUICE_TEST_CLICKHOUSE_USER and
// _PASSWORD optional). It creates the schema in database sluice, writes
// batches through the writer, replays one, and reads back exact totals.
// A ClickHouse server is the one dependency allowed to be absent in CI:
// none can be installed on the machines sluice is built on.
func TestRealServer(t *testing.T) {
	addr := os.Getenv("SLUICE_TEST_CLICKHOUSE")
	if addr == "" {
		t.Skip("SLUICE_TEST_CLICKHOUSE names no ClickHouse server (the one dependency allowed to be absent)")
	}
	cfg := DefaultConfig()
	cfg.Addrs = []string{addr}
	cfg.Database = "default"
	if u := os.Getenv("SLUICE_TEST_CLICKHOUSE_USER"); u != "" {
		cfg.Username = u
	}
	cfg.Password = os.Getenv("SLUICE_TEST_CLICKHOUSE_PASSWORD")
	ctx := t.Context()
	s, err := New(testReporter(), cfg, Dependencies{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.WithoutCancel(ctx))
	m, err := migrate.New(reporter.New(slog.New(slog.DiscardHandler)), migrate.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Migrate(ctx, s.Exec); err != nil {
		t.Fatal(err)
	}
	if err := s.Exec(ctx, "TRUNCATE TABLE "+migrate.FlowsTable); err != nil {
		t.Fatal(err)
	}
	w, err := writer.New(testReporter(), writer.DefaultConfig(), writer.Dependencies{Inserter: s})
	if err != nil {
		t.Fatal(err)
	}
	flows := clickhouse.GenerateFlows(10_000, 3)
	var bytes uint64
	for _, f := range flows {
		bytes += f.Bytes
	}
	for range 2 { // the second write is a replay: stored once
		if err := w.Write(ctx, flows, "server-test-batch-1"); err != nil {
			t.Fatal(err)
		}
	}
	var n, sum uint64
	row := s.conn.QueryRow(ctx, "SELECT count(), sum(Bytes) FROM "+migrate.FlowsTable)
	if err := row.Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	if n != uint64(len(flows)) || sum != bytes {
		t.Fatalf("stored %d rows, %d bytes; want %d, %d", n, sum, len(flows), bytes)
	}
	// sluice's SQL endpoint reads through the server's HTTP interface.
	out, err := s.QueryReadOnly(ctx, "SELECT count() FROM "+migrate.FlowsTable, "TSV")
	if err != nil || strings.TrimSpace(string(out)) != fmt.Sprint(n) {
		t.Fatalf("QueryReadOnly: %q, %v; want %d", out, err, n)
	}
	fmt.Fprintf(os.Stderr, "server test: %d rows stored once on %s\n", n, addr)
}

func testReporter() *reporter.Reporter { return reporter.New(slog.New(slog.DiscardHandler)) }
