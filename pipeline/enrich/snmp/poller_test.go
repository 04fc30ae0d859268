package snmp

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sluice/internal/testenv"
	"sluice/pipeline/enrich/snmp/snmptest"
)

var localhost = netip.MustParseAddr("127.0.0.1")

// The interfaces every test agent serves, and what the poller must make
// of them.
var (
	agentInterfaces = []snmptest.Interface{
		{Index: 1001, Name: "et-0/0/1", Alias: "uplink to transit-A", HighSpeed: 100000},
		// No ifHighSpeed: the speed comes from ifSpeed.
		{Index: 1002, Name: "ge-0/0/2", Alias: "customer: ACME (AS64500)", Speed: 1_000_000_000},
		// ifSpeed saturated, ifHighSpeed exact: ifHighSpeed wins.
		{Index: 1003, Name: "xe-0/0/3", HighSpeed: 10000, Speed: 4294967295},
	}
	wantInterfaces = map[uint32]Interface{
		1001: {Name: "et-0/0/1", Description: "uplink to transit-A", Speed: 100_000_000_000},
		1002: {Name: "ge-0/0/2", Description: "customer: ACME (AS64500)", Speed: 1_000_000_000},
		1003: {Name: "xe-0/0/3", Speed: 10_000_000_000},
	}
)

const agentSysName = "edge-router-1.par"

func testConfig(port uint16, creds ...Credential) Config {
	cfg := DefaultConfig()
	cfg.Enabled = true
	cfg.Port = port
	cfg.Timeout = 300 * time.Millisecond
	cfg.Retries = 0
	cfg.Credentials = creds
	return cfg
}

func writeSecret(t *testing.T, secret string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitPolled looks the exporter up until its first poll answered.
func waitPolled(t *testing.T, h *harness, addr netip.Addr) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, "the first poll of "+addr.String(), func() bool {
		_, ok := h.Interface(addr, 1001)
		return ok
	})
}

// checkAgentNames asserts everything the poller must know of the test
// agent.
func checkAgentNames(t *testing.T, h *harness, addr netip.Addr) {
	t.Helper()
	for idx, want := range wantInterfaces {
		got, ok := h.Interface(addr, idx)
		if !ok || got != want {
			t.Errorf("Interface(%s, %d) = %+v, %v; want %+v", addr, idx, got, ok, want)
		}
	}
	if name, ok := h.ExporterName(addr); !ok || name != agentSysName {
		t.Errorf("ExporterName(%s) = %q, %v; want %q", addr, name, ok, agentSysName)
	}
}

func TestPollV2c(t *testing.T) {
	agent := snmptest.Start(t, snmptest.Config{SysName: agentSysName, Community: "s3cret-ro", Interfaces: agentInterfaces})
	// The /32 is more specific than the /8, whose community is wrong.
	h := newHarness(t, testConfig(agent.Port(),
		Credential{Prefix: netip.MustParsePrefix("127.0.0.0/8"), Community: "wrong"},
		Credential{Prefix: netip.MustParsePrefix("127.0.0.1/32"), CommunityFile: writeSecret(t, "s3cret-ro")},
	), "")

	// Before Start: a miss, counted, and a poll asked for.
	if _, ok := h.Interface(localhost, 1001); ok {
		t.Fatal("hit before any poll")
	}
	if got := h.metric(t, "misses_total", "reason", missNotPolled); got != 1 {
		t.Errorf("misses_total{reason=exporter_not_polled} = %v, want 1", got)
	}
	h.run(t)
	waitPolled(t, h, localhost)
	checkAgentNames(t, h, localhost)
	// Exporter addresses arrive IPv4-mapped from the record.
	if got, ok := h.Interface(netip.MustParseAddr("::ffff:127.0.0.1"), 1001); !ok || got != wantInterfaces[1001] {
		t.Errorf("IPv4-mapped lookup = %+v, %v", got, ok)
	}
	// The machine's real interfaces are in the table too (lo at least).
	if got := h.metric(t, "interfaces_cached"); got < 4 {
		t.Errorf("interfaces_cached = %v, want at least 4", got)
	}

	// An ifIndex the agent does not have is a counted miss.
	before := h.metric(t, "misses_total", "reason", missUnknownInterface)
	if got, ok := h.Interface(localhost, 4242); ok {
		t.Errorf("Interface(4242) = %+v, true; want a miss", got)
	}
	if got := h.metric(t, "misses_total", "reason", missUnknownInterface); got != before+1 {
		t.Errorf("misses_total{reason=interface_unknown} = %v, want %v", got, before+1)
	}
	// ifIndex 0 means "no interface": no lookup, no miss.
	misses := h.metric(t, "lookups_total", "kind", "interface", "result", "miss")
	if _, ok := h.Interface(localhost, 0); ok {
		t.Error("Interface(0) hit")
	}
	if got := h.metric(t, "lookups_total", "kind", "interface", "result", "miss"); got != misses {
		t.Errorf("Interface(0) counted a miss")
	}
	for metric, want := range map[string]float64{"exporters": 1, "exporters_cached": 1} {
		if got := h.metric(t, metric); got != want {
			t.Errorf("%s = %v, want %v", metric, got, want)
		}
	}
	if got := h.metric(t, "polls_total", "result", resultOK); got < 1 {
		t.Errorf("polls_total{result=ok} = %v", got)
	}
	if got := h.metric(t, "lookups_total", "kind", "interface", "result", "hit"); got < 4 {
		t.Errorf("lookups_total{hit} = %v", got)
	}
}

func TestPollIPv6(t *testing.T) {
	if c, err := net.ListenPacket("udp", "[::1]:0"); err != nil {
		testenv.Missing(t, fmt.Sprintf("IPv6 loopback (%v)", err))
	} else {
		c.Close()
	}
	agent := snmptest.Start(t, snmptest.Config{SysName: agentSysName, Community: "v6-community", IPv6: true, Interfaces: agentInterfaces})
	h := newHarness(t, testConfig(agent.Port(), Credential{Prefix: netip.MustParsePrefix("::1/128"), Community: "v6-community"}), "")
	h.run(t)
	v6 := netip.MustParseAddr("::1")
	waitPolled(t, h, v6)
	checkAgentNames(t, h, v6)
}

func TestPollV3(t *testing.T) {
	agent := snmptest.Start(t, snmptest.Config{
		SysName: agentSysName, Interfaces: agentInterfaces,
		Users: []snmptest.User{
			{Name: "sluice-sha-aes", AuthProtocol: "SHA", AuthPassphrase: "auth-passphrase-1", PrivProtocol: "AES", PrivPassphrase: "priv-passphrase-1"},
			{Name: "sluice-sha256-aes", AuthProtocol: "SHA-256", AuthPassphrase: "auth-passphrase-2", PrivProtocol: "AES", PrivPassphrase: "priv-passphrase-2"},
			{Name: "sluice-sha-nopriv", AuthProtocol: "SHA", AuthPassphrase: "auth-passphrase-3"},
		},
	})
	prefix := netip.MustParsePrefix("127.0.0.1/32")
	for _, tc := range []struct {
		name string
		cred Credential
	}{
		{"SHA+AES from files", Credential{Prefix: prefix, Version: "3", User: "sluice-sha-aes",
			AuthProtocol: "SHA", AuthPassphraseFile: writeSecret(t, "auth-passphrase-1"),
			PrivProtocol: "AES", PrivPassphraseFile: writeSecret(t, "priv-passphrase-1")}},
		{"SHA256+AES", Credential{Prefix: prefix, Version: "3", User: "sluice-sha256-aes", SecurityLevel: "authPriv",
			AuthProtocol: "sha256", AuthPassphrase: "auth-passphrase-2", PrivProtocol: "aes", PrivPassphrase: "priv-passphrase-2"}},
		{"SHA authNoPriv", Credential{Prefix: prefix, Version: "3", User: "sluice-sha-nopriv",
			AuthProtocol: "SHA", AuthPassphrase: "auth-passphrase-3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, testConfig(agent.Port(), tc.cred), "")
			h.run(t)
			waitPolled(t, h, localhost)
			checkAgentNames(t, h, localhost)
		})
	}
}

func TestBadCredentials(t *testing.T) {
	agent := snmptest.Start(t, snmptest.Config{
		SysName: agentSysName, Community: "right", Interfaces: agentInterfaces,
		Users: []snmptest.User{{Name: "sluice", AuthProtocol: "SHA", AuthPassphrase: "auth-passphrase", PrivProtocol: "AES", PrivPassphrase: "priv-passphrase"}},
	})
	prefix := netip.MustParsePrefix("127.0.0.1/32")
	for _, tc := range []struct {
		name, result, log string
		cred              Credential
	}{
		{"v3 wrong auth passphrase", resultAuth, "refused the SNMPv3 credentials", Credential{Prefix: prefix, Version: "3", User: "sluice",
			AuthProtocol: "SHA", AuthPassphrase: "not-the-passphrase", PrivProtocol: "AES", PrivPassphrase: "priv-passphrase"}},
		{"v3 unknown user", resultAuth, "refused the SNMPv3 credentials", Credential{Prefix: prefix, Version: "3", User: "nobody",
			AuthProtocol: "SHA", AuthPassphrase: "auth-passphrase", PrivProtocol: "AES", PrivPassphrase: "priv-passphrase"}},
		// snmpd does not answer a wrong community at all.
		{"v2c wrong community", resultTimeout, "community is wrong", Credential{Prefix: prefix, Community: "wrong"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, testConfig(agent.Port(), tc.cred), "")
			h.run(t)
			h.Interface(localhost, 1001)
			testenv.Eventually(t, 30*time.Second, "a failed poll counted as "+tc.result, func() bool {
				return h.metric(t, "polls_total", "result", tc.result) >= 1
			})
			if got := h.metric(t, "polls_total", "result", resultOK); got != 0 {
				t.Errorf("polls_total{result=ok} = %v with a bad credential", got)
			}
			if _, ok := h.Interface(localhost, 1001); ok {
				t.Error("a hit with a bad credential")
			}
			testenv.Eventually(t, 30*time.Second, "the failure logged", func() bool {
				return strings.Contains(h.log.String(), tc.log)
			})
			for _, want := range []string{"exporter=127.0.0.1", "result=" + tc.result, "credential_prefix=127.0.0.1/32"} {
				if log := h.log.String(); !strings.Contains(log, want) {
					t.Errorf("the log does not say %s:\n%s", want, log)
				}
			}
			for _, secret := range []string{"not-the-passphrase", "priv-passphrase", "community=wrong"} {
				if strings.Contains(h.log.String(), secret) {
					t.Errorf("the secret %q is in the log", secret)
				}
			}
		})
	}
}

func TestAgentDownKeepsNames(t *testing.T) {
	agent := snmptest.Start(t, snmptest.Config{SysName: agentSysName, Community: "public", Interfaces: agentInterfaces})
	cfg := testConfig(agent.Port())
	cfg.Interval = time.Second
	h := newHarness(t, cfg, "")
	h.run(t)
	waitPolled(t, h, localhost)

	agent.Stop()
	// The next re-poll (after the 1s interval) finds no agent.
	testenv.Eventually(t, 30*time.Second, "a failed poll of the stopped agent", func() bool {
		h.Interface(localhost, 1001)
		return h.metric(t, "polls_total", "result", resultRefused)+h.metric(t, "polls_total", "result", resultTimeout) >= 1
	})
	checkAgentNames(t, h, localhost)
	if !strings.Contains(h.log.String(), "keeping_names_polled_at") {
		t.Error("the failure log does not say the old names are kept")
	}
	// An exporter never polled, whose agent is down too: misses, counted.
	other := netip.MustParseAddr("127.0.0.2")
	before := h.metric(t, "misses_total", "reason", missNotPolled)
	for range 3 {
		if _, ok := h.Interface(other, 1001); ok {
			t.Fatal("hit for an exporter never polled")
		}
	}
	if got := h.metric(t, "misses_total", "reason", missNotPolled); got != before+3 {
		t.Errorf("misses_total{reason=exporter_not_polled} = %v, want %v", got, before+3)
	}
	testenv.Eventually(t, 30*time.Second, "the failed poll of the other exporter", func() bool {
		return h.metric(t, "polls_total", "result", resultRefused)+h.metric(t, "polls_total", "result", resultTimeout) >= 2
	})

	// The agent comes back: polls succeed again.
	ok := h.metric(t, "polls_total", "result", resultOK)
	agent.Restart()
	testenv.Eventually(t, 30*time.Second, "a poll after the agent came back", func() bool {
		return h.metric(t, "polls_total", "result", resultOK) > ok
	})
	checkAgentNames(t, h, localhost)
}

func TestRestartLoadsCache(t *testing.T) {
	agent := snmptest.Start(t, snmptest.Config{SysName: agentSysName, Community: "public", Interfaces: agentInterfaces})
	stateDir := filepath.Join(t.TempDir(), "state")
	h := newHarness(t, testConfig(agent.Port()), stateDir)
	stop := h.run(t)
	waitPolled(t, h, localhost)
	stop() // writes the cache
	agent.Stop()

	raw, err := os.ReadFile(filepath.Join(stateDir, stateFileName))
	if err != nil {
		t.Fatal(err)
	}
	var state stateFile
	if err := json.Unmarshal(raw, &state); err != nil || state.Version != stateVersion || len(state.Exporters) != 1 {
		t.Fatalf("state file: %v, %+v", err, state)
	}

	// A new poller, agent down: names at once, before Start and after it.
	h2 := newHarness(t, testConfig(agent.Port()), stateDir)
	checkAgentNames(t, h2, localhost)
	if got := h2.metric(t, "exporters_cached"); got != 1 {
		t.Errorf("exporters_cached after load = %v, want 1", got)
	}
	if !strings.Contains(h2.log.String(), "loaded the SNMP cache") {
		t.Error("loading the cache is not logged")
	}
	h2.run(t)
	// An interface the cache lacks asks for a poll, which fails: the cached
	// names stay.
	h2.Interface(localhost, 4242)
	testenv.Eventually(t, 30*time.Second, "the failed poll", func() bool {
		return h2.metric(t, "polls_total", "result", resultRefused)+h2.metric(t, "polls_total", "result", resultTimeout) >= 1
	})
	checkAgentNames(t, h2, localhost)
}

func TestCorruptCacheIgnored(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, stateFileName), []byte("{not json"), 0o640); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, testConfig(16161), dir)
	if !strings.Contains(h.log.String(), "ignoring the SNMP cache file") {
		t.Errorf("no warning about the corrupt cache:\n%s", h.log.String())
	}
	if got := h.metric(t, "exporters"); got != 0 {
		t.Errorf("exporters = %v", got)
	}
}

func TestMaxExporters(t *testing.T) {
	// Nothing listens on these exporters' port: the polls fail, which
	// does not matter here.
	cfg := testConfig(16200)
	cfg.MaxExporters = 2
	h := newHarness(t, cfg, "")
	h.run(t)
	for _, a := range []string{"127.0.0.2", "127.0.0.3"} {
		h.Interface(netip.MustParseAddr(a), 1)
	}
	testenv.Eventually(t, 30*time.Second, "two exporters known", func() bool { return h.metric(t, "exporters") == 2 })
	h.Interface(netip.MustParseAddr("127.0.0.4"), 1)
	testenv.Eventually(t, 30*time.Second, "the third exporter refused", func() bool {
		h.Interface(netip.MustParseAddr("127.0.0.4"), 1)
		return h.metric(t, "misses_total", "reason", missExporterLimit) >= 1
	})
	if got := h.metric(t, "exporters"); got != 2 {
		t.Errorf("exporters = %v, want 2", got)
	}
}

func TestExpire(t *testing.T) {
	agent := snmptest.Start(t, snmptest.Config{SysName: agentSysName, Community: "public", Interfaces: agentInterfaces})
	cfg := testConfig(agent.Port())
	cfg.Interval, cfg.Expire = time.Second, time.Second
	h := newHarness(t, cfg, "")
	h.run(t)
	waitPolled(t, h, localhost)
	// No more lookups: the exporter is forgotten.
	testenv.Eventually(t, 30*time.Second, "the exporter expired", func() bool { return h.metric(t, "exporters") == 0 })
	for metric, want := range map[string]float64{"exporters_expired_total": 1, "exporters_cached": 0, "interfaces_cached": 0} {
		if got := h.metric(t, metric); got != want {
			t.Errorf("%s = %v, want %v", metric, got, want)
		}
	}
}

func TestDisabled(t *testing.T) {
	cfg := DefaultConfig()
	h := newHarness(t, cfg, t.TempDir())
	if _, ok := h.Interface(localhost, 1); ok {
		t.Error("a disabled poller answered")
	}
	if len(h.requests) != 0 {
		t.Error("a disabled poller asked for a poll")
	}
}

// Lookups allocate nothing, hit or miss, once the exporter is known.
func TestLookupAllocs(t *testing.T) {
	h := newHarness(t, testConfig(16161), "")
	h.fill([]netip.Addr{localhost}, 10)
	mapped := netip.MustParseAddr("::ffff:127.0.0.1")
	for name, f := range map[string]func(){
		"hit":           func() { h.Interface(localhost, 5) },
		"mapped hit":    func() { h.Interface(mapped, 5) },
		"unknown index": func() { h.Interface(localhost, 99) },
		"name":          func() { h.ExporterName(localhost) },
	} {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocations per lookup", name, n)
		}
	}
}

func TestCredentialFor(t *testing.T) {
	creds, err := resolveCredentials([]Credential{
		{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Community: "wide"},
		{Prefix: netip.MustParsePrefix("::ffff:10.1.0.0/112"), Community: "narrow"},
		{Prefix: netip.MustParsePrefix("2001:db8::/32"), Version: "3", User: "u", AuthProtocol: "SHA", AuthPassphrase: "12345678"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]string{"10.1.2.3": "narrow", "10.2.0.1": "wide", "192.0.2.1": "public", "2001:db8::1": ""} {
		if got := credentialFor(creds, netip.MustParseAddr(addr)).community; got != want {
			t.Errorf("community for %s = %q, want %q", addr, got, want)
		}
	}
}

// Stop returns, and writes the cache, while polls are queued and running.
func TestShutdownWhilePolling(t *testing.T) {
	cfg := testConfig(16200) // nothing listens: every poll fails fast
	cfg.Workers = 1
	h := newHarness(t, cfg, t.TempDir())
	stop := h.run(t)
	for i := range 50 {
		h.Interface(netip.AddrFrom4([4]byte{127, 0, 1, byte(i + 1)}), 1)
	}
	testenv.Eventually(t, 30*time.Second, "polls under way", func() bool {
		return h.metric(t, "polls_total", "result", resultRefused)+h.metric(t, "polls_total", "result", resultTimeout) >= 3
	})
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("Stop did not return")
	}
}

// The cache file keeps every interface, dense or sparse, and an exporter
// not looked up for expire is not loaded again.
func TestCacheRoundTrip(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, testConfig(16161), dir)
	fresh, stale := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	h.fill([]netip.Addr{fresh, stale}, 3)
	sparse := map[uint32]Interface{7: {Name: "lo0"}, 1_000_123: {Name: "Gi0/1.100", Description: "vlan 100", Speed: 1e9}}
	h.exporters.Load().get(keyOf(fresh)).data.Store(newSnapshot("core-1", time.Now(), sparse))
	h.exporters.Load().get(keyOf(stale)).lastSeen.Store(time.Now().Add(-25 * time.Hour).Unix())
	if err := h.save(); err != nil {
		t.Fatal(err)
	}

	h2 := newHarness(t, testConfig(16161), dir)
	for idx, want := range sparse {
		if got, ok := h2.Interface(fresh, idx); !ok || got != want {
			t.Errorf("Interface(%d) = %+v, %v; want %+v", idx, got, ok, want)
		}
	}
	if name, ok := h2.ExporterName(fresh); !ok || name != "core-1" {
		t.Errorf("ExporterName = %q, %v", name, ok)
	}
	if _, ok := h2.Interface(stale, 1); ok {
		t.Error("an expired exporter was loaded")
	}
	if got := h2.metric(t, "interfaces_cached"); got != 2 {
		t.Errorf("interfaces_cached = %v, want 2", got)
	}
}

// A burst of lookups of a new exporter asks for one poll, without
// allocating, and after the scheduler handled it the exporter is known.
func TestNewExporterAskedOnce(t *testing.T) {
	h := newHarness(t, testConfig(16200), "")
	addr := netip.MustParseAddr("127.0.2.7") // loopback: the poll that follows stays on this machine
	if n := testing.AllocsPerRun(100, func() { h.Interface(addr, 1) }); n != 0 {
		t.Errorf("%v allocations per lookup of an unknown exporter", n)
	}
	h.ExporterName(addr)
	if got := len(h.requests); got != 1 {
		t.Fatalf("%d requests queued, want 1", got)
	}
	h.run(t)
	testenv.Eventually(t, 30*time.Second, "the exporter known", func() bool { return h.metric(t, "exporters") == 1 })
	for i := range h.asked {
		if h.asked[i].Load() != 0 {
			t.Errorf("asked[%d] still marked", i)
		}
	}
}
