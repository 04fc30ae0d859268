// Package rsyslogtest runs a real rsyslogd for tests of the syslog
// transport and of the whole path to it: in the foreground, on 127.0.0.1,
// TLS (the gtls driver, anonymous auth) with octet-counted framing,
// writing each message as received (raw.log) and as its RFC 5424 parser
// read it (parsed.log, JSON). Test support only.
package rsyslogtest

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"sluice/internal/testenv"
)

// Rsyslog is one rsyslogd started by a test.
type Rsyslog struct {
	// Dir holds its configuration, certificates, output files and log.
	Dir  string
	Port int
	bin  string
	conf string
	cmd  *exec.Cmd
}

// Files rsyslogd writes in Dir.
const (
	Raw    = "raw.log"    // each message as received (rawmsg)
	Parsed = "parsed.log" // each message's RFC 5424 fields, one JSON object a line
)

// Start starts rsyslogd on a free port, stopped at the test's end. Without
// rsyslogd and its gtls driver (Debian rsyslog, rsyslog-gnutls) it skips
// the test, or fails it in CI; under -short it skips.
func Start(t *testing.T) *Rsyslog {
	t.Helper()
	testenv.SkipIfShort(t, "rsyslog test")
	bin, err := exec.LookPath("rsyslogd")
	if err == nil {
		if matches, _ := filepath.Glob("/usr/lib/*/rsyslog/lmnsd_gtls.so"); len(matches) == 0 {
			err = fmt.Errorf("no lmnsd_gtls.so")
		}
	}
	if err != nil {
		testenv.Missing(t, "rsyslogd with its gtls driver (Debian packages rsyslog and rsyslog-gnutls)")
	}
	out, _ := exec.Command(bin, "-v").Output()
	testenv.Ran(t, strings.SplitN(string(out), "\n", 2)[0])
	r := &Rsyslog{bin: bin, Dir: t.TempDir()}
	writeCerts(t, r.Dir)
	r.Port = freePort(t)
	r.conf = filepath.Join(r.Dir, "rsyslog.conf")
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
`, r.Dir, r.CAFile(), filepath.Join(r.Dir, "server.pem"), filepath.Join(r.Dir, "server.key"),
		r.Port, filepath.Join(r.Dir, Raw), filepath.Join(r.Dir, Parsed))
	if err := os.WriteFile(r.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	r.Restart(t)
	t.Cleanup(func() { r.Stop(t) })
	return r
}

// Addr is the TCP/TLS input's address.
func (r *Rsyslog) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.Port)) }

// CAFile is the CA that signed rsyslogd's certificate (for 127.0.0.1).
func (r *Rsyslog) CAFile() string { return filepath.Join(r.Dir, "ca.pem") }

// Log is what rsyslogd printed.
func (r *Rsyslog) Log() string {
	out, _ := os.ReadFile(filepath.Join(r.Dir, "rsyslogd.out"))
	return string(out)
}

// Restart starts rsyslogd again after Stop (Start starts it the first
// time), on the same port, appending to the same files, and waits until
// it listens.
func (r *Rsyslog) Restart(t *testing.T) {
	t.Helper()
	logFile, err := os.OpenFile(filepath.Join(r.Dir, "rsyslogd.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	r.cmd = exec.Command(r.bin, "-n", "-f", r.conf, "-i", filepath.Join(r.Dir, "rsyslogd.pid"))
	r.cmd.Stdout, r.cmd.Stderr = logFile, logFile
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if !testenv.Poll(20*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", r.Addr(), time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	}) {
		t.Fatalf("rsyslogd did not listen on %s: %s", r.Addr(), r.Log())
	}
}

// Stop ends the rsyslogd the test started (by its PID) with SIGTERM, so
// that it writes what it received, and waits for it.
func (r *Rsyslog) Stop(t *testing.T) {
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

// Lines returns the lines of one of rsyslogd's files (Raw, Parsed); none
// before the first message.
func (r *Rsyslog) Lines(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(r.Dir, name))
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

// RFC5424 reads a message's header: PRI, VERSION, TIMESTAMP, HOSTNAME,
// APP-NAME, PROCID, MSGID, STRUCTURED-DATA, then MSG (submatches 1 to 9).
var RFC5424 = regexp.MustCompile(`(?s)^<(\d{1,3})>(1) (\S+) (\S+) (\S+) (\S+) (\S+) (-|\[.*?\]) (.*)$`)

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
