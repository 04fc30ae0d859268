// Package snmptest runs a real SNMP agent, Net-SNMP's snmpd (Debian
// package snmpd), for tests: on 127.0.0.1, on a free UDP port of
// 16161–16960, tried from a random one, with its own configuration and persistent directory in a
// temporary directory (never /etc/snmp or /var/lib/snmp, and whether a
// system snmpd runs on port 161 does not matter). The interfaces a test
// configures are served with snmpd.conf `override` directives at ifIndexes
// no real interface has, so the answers are exactly the configured ones on
// any machine.
package snmptest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"sluice/internal/testenv"
)

// The agents' ports: 16161–16960.
const (
	firstPort = 16161
	portCount = 800
)

// Interface is one row of the agent's interface tables; a zero field is
// not served at all (the agent has no such object).
type Interface struct {
	Index     uint32
	Name      string // ifName
	Alias     string // ifAlias
	HighSpeed uint32 // ifHighSpeed, Mbit/s
	Speed     uint32 // ifSpeed, bit/s
}

// User is an SNMPv3 user (snmpd's createUser and rouser).
type User struct {
	Name string
	// AuthProtocol: MD5, SHA, SHA-224, SHA-256, SHA-384 or SHA-512 (snmpd's
	// spelling); PrivProtocol: DES or AES; empty PrivProtocol is authNoPriv.
	AuthProtocol, AuthPassphrase string
	PrivProtocol, PrivPassphrase string
}

// Config is what the agent serves.
type Config struct {
	SysName   string
	Community string // SNMPv2c read-only community for 127.0.0.1 (and ::1); "" for none
	// IPv6 serves on [::1] too, on the same port.
	IPv6       bool
	Users      []User
	Interfaces []Interface
}

// Agent is a running snmpd.
type Agent struct {
	tb   testing.TB
	bin  string
	dir  string
	conf string
	port uint16
	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts snmpd serving cfg; the test fails (or skips outside CI)
// when snmpd is not installed, and skips with -short. The agent is stopped
// at the end of the test.
func Start(tb testing.TB, cfg Config) *Agent {
	tb.Helper()
	testenv.SkipIfShort(tb, "runs a real snmpd")
	bin, err := exec.LookPath("snmpd")
	if err != nil {
		// Debian installs it in /usr/sbin, which a user's PATH may lack.
		if _, statErr := os.Stat("/usr/sbin/snmpd"); statErr != nil {
			testenv.Missing(tb, "snmpd (Debian package snmpd)")
		}
		bin = "/usr/sbin/snmpd"
	}
	a := &Agent{tb: tb, bin: bin, dir: tb.TempDir()}
	a.conf = filepath.Join(a.dir, "snmpd.conf")
	var lastErr error
	// From a random port of the range: test packages run at once, and an
	// agent one test stops must not have its port taken by the next agent
	// another package starts, or the first test's poller would be answered
	// by the wrong agent when it expects silence or its own agent back.
	offset := rand.IntN(portCount)
	for i := range portCount {
		port := uint16(firstPort + (offset+i)%portCount)
		if !udpFree("127.0.0.1", port) || cfg.IPv6 && !udpFree("::1", port) {
			continue
		}
		a.port = port
		if err := os.WriteFile(a.conf, []byte(configText(cfg, port)), 0o600); err != nil {
			tb.Fatal(err)
		}
		if lastErr = a.start(); lastErr == nil {
			tb.Cleanup(a.Stop)
			return a
		}
	}
	tb.Fatalf("snmptest: no port of %d–%d could be served: %v", firstPort, firstPort+portCount-1, lastErr)
	return nil
}

// Addr is the agent's IPv4 address, 127.0.0.1:port.
func (a *Agent) Addr() netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), a.port)
}

// Port is the agent's UDP port.
func (a *Agent) Port() uint16 { return a.port }

// Stop stops the agent (SIGTERM) and waits for it to exit; stopping a
// stopped agent does nothing.
func (a *Agent) Stop() {
	if a.cmd == nil {
		return
	}
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.done
	}
	a.cmd = nil
}

// Restart starts the stopped agent again, on the same port and with the
// same configuration and persistent state.
func (a *Agent) Restart() {
	a.tb.Helper()
	if a.cmd != nil {
		a.tb.Fatal("snmptest: Restart of a running agent")
	}
	if err := a.start(); err != nil {
		a.tb.Fatalf("snmptest: restart on port %d: %v", a.port, err)
	}
}

// start runs snmpd in the foreground and waits until it serves: snmpd
// logs its version once its ports are open, or exits when one cannot be.
func (a *Agent) start() error {
	logPath := filepath.Join(a.dir, "snmpd.log")
	_ = os.Remove(logPath)
	cmd := exec.Command(a.bin,
		"-f", // foreground: the test owns the process
		"-C", // no configuration file but ours
		"-c", a.conf,
		"-Lf", logPath,
		"-m", "", // no MIB module: the configuration is numeric, and Debian ships few MIBs
		"-p", filepath.Join(a.dir, "snmpd.pid"),
	)
	cmd.Env = append(os.Environ(),
		// createUser's keys and the engine's boot counter are saved here,
		// not in /var/lib/snmp.
		"SNMP_PERSISTENT_DIR="+filepath.Join(a.dir, "persist"),
		"MIBS=", "MIBDIRS="+filepath.Join(a.dir, "no-mibs"),
	)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start snmpd: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			log, _ := os.ReadFile(logPath)
			return fmt.Errorf("snmpd exited: %s", strings.TrimSpace(string(log)))
		case <-time.After(20 * time.Millisecond):
		}
		if log, _ := os.ReadFile(logPath); strings.Contains(string(log), "NET-SNMP version") {
			a.cmd, a.done = cmd, done
			return nil
		}
	}
	_ = cmd.Process.Kill()
	<-done
	return errors.New("snmpd did not start within 15s")
}

// udpFree reports whether nothing listens on 127.0.0.1:port now. Another
// process may take it before snmpd does; start then fails and the next
// port is tried.
func udpFree(host string, port uint16) bool {
	c, err := net.ListenPacket("udp", net.JoinHostPort(host, fmt.Sprint(port)))
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func configText(cfg Config, port uint16) string {
	var b strings.Builder
	if cfg.IPv6 {
		fmt.Fprintf(&b, "agentaddress udp:127.0.0.1:%d,udp6:[::1]:%d\n", port, port)
	} else {
		fmt.Fprintf(&b, "agentaddress udp:127.0.0.1:%d\n", port)
	}
	if cfg.Community != "" {
		fmt.Fprintf(&b, "rocommunity %s 127.0.0.1\n", cfg.Community)
		if cfg.IPv6 {
			fmt.Fprintf(&b, "rocommunity6 %s ::1\n", cfg.Community)
		}
	}
	for _, u := range cfg.Users {
		// snmpd 5.9 accepts createUser in its main configuration file and
		// stores the localized keys in SNMP_PERSISTENT_DIR on exit.
		line := fmt.Sprintf("createUser %s %s %q", u.Name, u.AuthProtocol, u.AuthPassphrase)
		level := "auth"
		if u.PrivProtocol != "" {
			line += fmt.Sprintf(" %s %q", u.PrivProtocol, u.PrivPassphrase)
			level = "priv"
		}
		fmt.Fprintf(&b, "%s\nrouser %s %s\n", line, u.Name, level)
	}
	if cfg.SysName != "" {
		fmt.Fprintf(&b, "sysName %s\n", cfg.SysName)
	}
	for _, i := range cfg.Interfaces {
		if i.Name != "" {
			fmt.Fprintf(&b, "override .1.3.6.1.2.1.31.1.1.1.1.%d octet_str %q\n", i.Index, i.Name)
		}
		if i.Alias != "" {
			fmt.Fprintf(&b, "override .1.3.6.1.2.1.31.1.1.1.18.%d octet_str %q\n", i.Index, i.Alias)
		}
		if i.HighSpeed != 0 {
			fmt.Fprintf(&b, "override .1.3.6.1.2.1.31.1.1.1.15.%d uinteger %d\n", i.Index, i.HighSpeed)
		}
		if i.Speed != 0 {
			fmt.Fprintf(&b, "override .1.3.6.1.2.1.2.2.1.5.%d uinteger %d\n", i.Index, i.Speed)
		}
	}
	return b.String()
}
