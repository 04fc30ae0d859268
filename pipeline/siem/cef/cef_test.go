package cef

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"sluice/pipeline/record"
	"sluice/pipeline/siem/cef/ceftest"
)

func TestAlertRoundTrip(t *testing.T) {
	f := New(Config{DeviceVersion: "1.2|3\\4", DeviceExternalID: "sensor=1\nb"})
	for i := range 2 {
		a := ceftest.Alert(i)
		line, err := f.AppendAlert(nil, a)
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(string(line), "\r\n") {
			t.Fatalf("line break in %q", line)
		}
		ev, err := ceftest.Parse(string(line))
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		ceftest.CheckAlert(t, ev, a, "1.2|3\\4", "sensor=1\nb", 8)
	}
}

func TestEscaping(t *testing.T) {
	for _, c := range []struct{ in, header, ext string }{
		{`a|b`, `a\|b`, `a|b`},
		{`a\b`, `a\\b`, `a\\b`},
		{`a=b`, `a=b`, `a\=b`},
		{"a\nb\rc", "a b c", `a\nb\rc`},
		{"a\x00b\tc", "a b c", "a b c"},
		{"héllo", "héllo", "héllo"},
	} {
		if got := string(appendHeaderField(nil, c.in, false)); got != c.header {
			t.Errorf("header %q: %q, want %q", c.in, got, c.header)
		}
		if got := string(appendEscaped(nil, c.in)); got != c.ext {
			t.Errorf("extension %q: %q, want %q", c.in, got, c.ext)
		}
	}
	// The standard's own example line reads back.
	ev, err := ceftest.Parse(`CEF:0|security|threatmanager|1.0|100|detected a \| in message|10|src=10.0.0.1 act=blocked a \= dst=1.1.1.1`)
	if err != nil || ev.Header[5] != "detected a | in message" || ev.Extension["act"] != "blocked a =" || ev.Extension["dst"] != "1.1.1.1" {
		t.Fatalf("%+v, %v", ev, err)
	}
}

func TestSeverity(t *testing.T) {
	want := map[record.Severity]int{0: 0, record.SeverityInfo: 1, record.SeverityLow: 3, record.SeverityMedium: 5, record.SeverityHigh: 8, record.SeverityCritical: 10}
	for s, w := range want {
		if got := Severity(s); got != w {
			t.Errorf("Severity(%s) = %d, want %d", s, got, w)
		}
	}
}

func testFlow() *record.Flow {
	feed, _ := record.RegisterFeed("cef-test-feed")
	return &record.Flow{
		TimeReceived: time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC).UnixNano(), TimeFlowStart: 1796612340000, TimeFlowEnd: 1796612399000,
		ExporterAddress: record.AddrFrom4([4]byte{198, 51, 100, 1}), ExporterName: "edge|1",
		SamplingRate: 100, SrcAddr: record.AddrFrom4([4]byte{10, 0, 0, 5}), DstAddr: record.AddrFrom4([4]byte{192, 0, 2, 7}),
		SrcPort: 53, DstPort: 5353, Proto: 17, Bytes: 10, Packets: 2,
		InIfName: "xe-0/0/0", OutIfName: "ae1=core", TrafficDirection: record.DirectionInbound,
		ServiceName: "dns", DstThreatFeeds: feed, CommunityID: record.CommunityID{1, 2, 3},
	}
}

func TestFlow(t *testing.T) {
	f := New(Config{DeviceVersion: "9", DeviceExternalID: "s1"})
	fl := testFlow()
	line, err := f.AppendFlow(nil, fl, "tok=1:7")
	if err != nil {
		t.Fatal(err)
	}
	ev, err := ceftest.Parse(string(line))
	if err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	if ev.Header != [7]string{"CEF:0", "sluice", "sluice", "9", "flow", "network flow", "5"} {
		t.Errorf("header %q", ev.Header)
	}
	cid := string(fl.CommunityID.AppendText(nil))
	for k, v := range map[string]string{
		"externalId": "tok=1:7", "rt": "1796612400000", "start": "1796612340000", "end": "1796612399000",
		"src": "10.0.0.5", "dst": "192.0.2.7", "spt": "53", "dpt": "5353", "proto": "UDP",
		"dvc": "198.51.100.1", "dvchost": "edge|1", "in": "1000", "cn1": "200", "cn2": "100",
		"deviceInboundInterface": "xe-0/0/0", "deviceOutboundInterface": "ae1=core", "deviceDirection": "0",
		"app": "dns", "cs1": "cef-test-feed", "cs6": cid, "cs6Label": "communityId", "deviceExternalId": "s1",
	} {
		if got := ev.Extension[k]; got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

// TestIPv6Labels: IPv6 addresses go in the custom IPv6 fields, each with
// its label: c6a1 the device (exporter), c6a2 the source, c6a3 the
// destination.
func TestIPv6Labels(t *testing.T) {
	fl := testFlow()
	fl.SrcAddr = record.AddrFromSlice(netip.MustParseAddr("2001:db8::5").AsSlice())
	fl.DstAddr = record.AddrFromSlice(netip.MustParseAddr("2001:db8::7").AsSlice())
	fl.ExporterAddress = record.AddrFromSlice(netip.MustParseAddr("2001:db8::1").AsSlice())
	line, err := New(Config{DeviceVersion: "9", DeviceExternalID: "s1"}).AppendFlow(nil, fl, "x")
	if err != nil {
		t.Fatal(err)
	}
	ev, err := ceftest.Parse(string(line))
	if err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	for k, v := range map[string]string{
		"c6a1": "2001:db8::1", "c6a1Label": "Device IPv6 Address",
		"c6a2": "2001:db8::5", "c6a2Label": "Source IPv6 Address",
		"c6a3": "2001:db8::7", "c6a3Label": "Destination IPv6 Address",
	} {
		if got := ev.Extension[k]; got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestConfig(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	err := Config{DeviceVersion: strings.Repeat("v", 32), DeviceExternalID: strings.Repeat("d", 256)}.Validate()
	if err == nil || !strings.Contains(err.Error(), "device-version:") || !strings.Contains(err.Error(), "device-external-id:") {
		t.Fatalf("%v", err)
	}
	f := New(DefaultConfig())
	if f.version == "" || f.deviceID == "" || f.Name() != "cef" {
		t.Fatalf("%+v", f)
	}
}

func TestNoAllocations(t *testing.T) {
	f := New(Config{DeviceVersion: "1", DeviceExternalID: "s"})
	a, fl := ceftest.Alert(1), testFlow()
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { buf, _ = f.AppendAlert(buf[:0], a) }); n != 0 {
		t.Errorf("AppendAlert: %v allocations", n)
	}
	if n := testing.AllocsPerRun(100, func() { buf, _ = f.AppendFlow(buf[:0], fl, "id") }); n != 0 {
		t.Errorf("AppendFlow: %v allocations", n)
	}
}
