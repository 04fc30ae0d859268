package syslog

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"sluice/internal/reporter"
	"sluice/internal/testenv"
	"sluice/internal/tlsclient"
	"sluice/pipeline/record"
	"sluice/pipeline/siem"
	"sluice/pipeline/siem/cef"
	"sluice/pipeline/siem/cef/ceftest"
)

// rsyslog is a real rsyslogd, run by the test in the foreground on
// 127.0.0.1: TLS (gtls driver) with octet-counted framing, writing each
// message as received (raw.log) and as its RFC 5424 parser read it
// (parsed.log, JSON).
type rsyslog struct {
	bin, dir, conf string
	port           int
	cmd            *exec.Cmd
}

func startRsyslog(t *testing.T) *rsyslog {
	t.Helper()
	testenv.SkipIfShort(t, "rsyslog test")
	bin, err := exec.LookPath("rsyslogd")
	if err == nil {
		_, err = os.Stat("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so")
		if err != nil {
			matches, _ := filepath.Glob("/usr/lib/*/rsyslog/lmnsd_gtls.so")
			if len(matches) > 0 {
				err = nil
			}
		}
	}
	if err != nil {
		testenv.Missing(t, "rsyslogd with its gtls driver (Debian packages rsyslog and rsyslog-gnutls)")
	}
	out, _ := exec.Command(bin, "-v").Output()
	testenv.Ran(t, strings.SplitN(string(out), "\n", 2)[0])
	r := &rsyslog{bin: bin, dir: t.TempDir()}
	writeCerts(t, r.dir)
	r.port = freePort(t)
	r.conf = filepath.Join(r.dir, "rsyslog.conf")
	conf := fmt.Sprintf(`global(workDirectory=%[1]q maxMessageSize="256k"
  defaultNetstreamDriverCAFile=%[2]q defaultNetstreamDriverCertFile=%[3]q defaultNetstreamDriverKeyFile=%[4]q)
module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
input(type="imtcp" port="%[5]d" address="127.0.0.1" supportOctetCountedFraming="on")
template(name="raw" type="string" string="%%rawmsg%%\n")
template(name="parsed" type="list" option.jsonf="on") {
  property(outname="pri" name="pri" format="jsonf")
  property(outname="version" name="protocol-version" format="jsonf")
  property(outname="time" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="host" name="hostname" format="jsonf")
  property(outname="app" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="sd" name="structured-data" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
}
action(type="omfile" file=%[6]q template="raw")
action(type="omfile" file=%[7]q template="parsed")
`, r.dir, filepath.Join(r.dir, "ca.pem"), filepath.Join(r.dir, "server.pem"), filepath.Join(r.dir, "server.key"),
		r.port, filepath.Join(r.dir, "raw.log"), filepath.Join(r.dir, "parsed.log"))
	if err := os.WriteFile(r.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	r.start(t)
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *rsyslog) start(t *testing.T) {
	t.Helper()
	logFile, err := os.OpenFile(filepath.Join(r.dir, "rsyslogd.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	r.cmd = exec.Command(r.bin, "-n", "-f", r.conf, "-i", filepath.Join(r.dir, "rsyslogd.pid"))
	r.cmd.Stdout, r.cmd.Stderr = logFile, logFile
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port))
	if !testenv.Poll(20*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	}) {
		out, _ := os.ReadFile(filepath.Join(r.dir, "rsyslogd.out"))
		t.Fatalf("rsyslogd did not listen on %s: %s", addr, out)
	}
}

// stop ends the rsyslogd this test started (by its PID) with SIGTERM, so
// that it writes what it received, and waits for it.
func (r *rsyslog) stop(t *testing.T) {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { r.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		r.cmd.Process.Kill()
		<-done
		t.Errorf("rsyslogd did not stop on SIGTERM within 20s")
	}
	r.cmd = nil
}

func (r *rsyslog) lines(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(r.dir, name))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		lines = append(lines, s.Text())
	}
	return lines
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// writeCerts writes a test CA (ca.pem) and a server certificate for
// 127.0.0.1 it signs (server.pem, server.key) into dir.
func writeCerts(t *testing.T, dir string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sluice test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	for name, block := range map[string]*pem.Block{
		"ca.pem": {Type: "CERTIFICATE", Bytes: caDER}, "server.pem": {Type: "CERTIFICATE", Bytes: der},
		"server.key": {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// rfc5424 reads a message's header: PRI, VERSION, TIMESTAMP, HOSTNAME,
// APP-NAME, PROCID, MSGID, STRUCTURED-DATA, then MSG.
var rfc5424 = regexp.MustCompile(`(?s)^<(\d{1,3})>(1) (\S+) (\S+) (\S+) (\S+) (\S+) (-|\[.*?\]) (.*)$`)

func alertEvents(f siem.Format, from, to int) ([]siem.Event, map[string]int) {
	var events []siem.Event
	index := map[string]int{}
	for i := from; i < to; i++ {
		a := ceftest.Alert(i)
		body, err := f.AppendAlert(nil, a)
		if err != nil {
			panic(err)
		}
		events = append(events, siem.Event{Kind: siem.KindAlert, ID: a.ID, Time: a.Time, Body: body})
		index[a.ID] = i
	}
	return events, index
}

func TestRsyslogCEFOverTLS(t *testing.T) {
	rs := startRsyslog(t)
	r := reporter.New(slog.New(slog.DiscardHandler))
	cfg := DefaultConfig()
	cfg.Address = net.JoinHostPort("127.0.0.1", strconv.Itoa(rs.port))
	cfg.TLS = tlsclient.Config{Enabled: true, CAFile: filepath.Join(rs.dir, "ca.pem")}
	cfg.Hostname = "sluice-test"
	cfg.ReconnectBackoff = 50 * time.Millisecond
	tr, err := New(r, cfg, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	format := cef.New(cef.Config{DeviceVersion: "9.9", DeviceExternalID: "sensor|1"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := tr.Ready(ctx); err != nil {
		t.Fatal(err)
	}

	// Batch 1: alerts, and one flow (other severity, other MSGID).
	events, index := alertEvents(format, 0, 40)
	fl := &netipFlow
	body, _ := format.AppendFlow(nil, fl, "flow-1")
	flowTime := time.UnixMilli(fl.TimeFlowEnd)
	events = append(events, siem.Event{Kind: siem.KindFlow, ID: "flow-1", Time: flowTime, Body: body})
	if err := tr.Send(ctx, events); err != nil {
		t.Fatal(err)
	}
	if !testenv.Poll(30*time.Second, func() bool { return len(rs.lines(t, "parsed.log")) >= len(events) }) {
		out, _ := os.ReadFile(filepath.Join(rs.dir, "rsyslogd.out"))
		t.Fatalf("rsyslog wrote %d of %d messages; rsyslogd said: %s", len(rs.lines(t, "parsed.log")), len(events), out)
	}

	// Receiver down: Send fails after max-attempts, naming the address;
	// then up again: the same batch goes through over a new connection.
	rs.stop(t)
	// Once the transport's reader saw rsyslog close the connection (a
	// batch written before that goes into a dead socket and is lost: the
	// boundary the package's comment describes), Send fails.
	testenv.Eventually(t, 10*time.Second, "the transport to see the connection closed", func() bool {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		select {
		case <-tr.dead:
			return true
		default:
			return false
		}
	})
	events2, index2 := alertEvents(format, 40, 80)
	short, cancelShort := context.WithTimeout(ctx, 10*time.Second)
	err = tr.Send(short, events2)
	cancelShort()
	if err == nil || !strings.Contains(err.Error(), cfg.Address) {
		t.Fatalf("send with the receiver down: %v", err)
	}
	rs.start(t)
	if err := tr.Send(ctx, events2); err != nil {
		t.Fatal(err)
	}
	for id, i := range index2 {
		index[id] = i
	}
	want := len(events) + len(events2)
	if !testenv.Poll(30*time.Second, func() bool { return len(rs.lines(t, "parsed.log")) >= want }) {
		out, _ := os.ReadFile(filepath.Join(rs.dir, "rsyslogd.out"))
		t.Errorf("rsyslog wrote %d of %d messages; rsyslogd said: %s", len(rs.lines(t, "parsed.log")), want, out)
	}
	if testing.Verbose() {
		out, _ := os.ReadFile(filepath.Join(rs.dir, "rsyslogd.out"))
		t.Logf("rsyslogd said: %s", out)
	}

	raw, parsed := rs.lines(t, "raw.log"), rs.lines(t, "parsed.log")
	if len(raw) != len(parsed) {
		t.Fatalf("%d raw lines, %d parsed", len(raw), len(parsed))
	}
	seen := map[string]int{}
	flows := 0
	pid := strconv.Itoa(os.Getpid())
	for i, line := range raw {
		m := rfc5424.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("not RFC 5424: %q", line)
		}
		var p struct{ Pri, Version, Time, Host, App, Procid, Msgid, SD, Msg string }
		if err := json.Unmarshal([]byte(parsed[i]), &p); err != nil {
			t.Fatalf("%q: %v", parsed[i], err)
		}
		// rsyslog's own RFC 5424 parser read the same fields.
		if got := []string{p.Pri, p.Version, p.Time, p.Host, p.App, p.Procid, p.Msgid, p.SD, p.Msg}; strings.Join(got, "\x00") != strings.Join(m[1:], "\x00") {
			t.Errorf("rsyslog parsed %q, the raw message says %q", got, m[1:])
		}
		if m[4] != "sluice-test" || m[5] != "sluice" || m[6] != pid || m[8] != "-" {
			t.Errorf("header %q", m[1:8])
		}
		ev, err := ceftest.Parse(m[9])
		if err != nil {
			t.Fatalf("CEF %q: %v", m[9], err)
		}
		if m[7] == "flow" {
			flows++
			if m[1] != "134" || m[3] != flowTime.UTC().Format("2006-01-02T15:04:05.000Z") || ev.Header[4] != "flow" || ev.Extension["externalId"] != "flow-1" {
				t.Errorf("flow message %q", line)
			}
			continue
		}
		if m[7] != "alert" || m[1] != "132" { // local0 (16) * 8 + warning (4)
			t.Errorf("alert header %q", m[1:8])
		}
		id := ev.Extension["externalId"]
		n, ok := index[id]
		if !ok {
			t.Fatalf("unknown alert %q", id)
		}
		seen[id]++
		a := ceftest.Alert(n)
		if m[3] != a.Time.UTC().Format("2006-01-02T15:04:05.000Z") {
			t.Errorf("timestamp %s, want the alert's %s", m[3], a.Time)
		}
		ceftest.CheckAlert(t, ev, a, "9.9", "sensor|1", 8)
	}
	if flows != 1 || len(seen) != len(index) {
		t.Fatalf("%d flows, %d distinct alerts of %d", flows, len(seen), len(index))
	}
	dups := 0
	for _, n := range seen {
		dups += n - 1
	}
	sent := testutil.ToFloat64(tr.metrics.events)
	t.Logf("%d messages, %d alerts, %d duplicates; events_sent_total %v, connects %v, resent %v, errors connect %v write %v closed %v",
		len(raw), len(seen), dups, sent, testutil.ToFloat64(tr.metrics.connects), testutil.ToFloat64(tr.metrics.resent),
		testutil.ToFloat64(tr.metrics.errors.WithLabelValues(reasonConnect)), testutil.ToFloat64(tr.metrics.errors.WithLabelValues(reasonWrite)),
		testutil.ToFloat64(tr.metrics.errors.WithLabelValues("closed_by_receiver")))
	if sent != float64(want) || testutil.ToFloat64(tr.metrics.connects) < 2 {
		t.Errorf("events_sent_total %v, want %d; connects %v, want at least 2", sent, want, testutil.ToFloat64(tr.metrics.connects))
	}
}

var netipFlow = func() record.Flow {
	return record.Flow{
		TimeReceived: time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC).UnixNano(), TimeFlowEnd: time.Date(2026, 12, 7, 2, 59, 59, 0, time.UTC).UnixMilli(),
		SrcAddr: record.Addr(netip.MustParseAddr("2001:db8::1").As16()), DstAddr: record.AddrFrom4([4]byte{192, 0, 2, 1}),
		SrcPort: 1234, DstPort: 443, Proto: 6, Bytes: 1, Packets: 1, SamplingRate: 1,
	}
}()
