package ceftest

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"sluice/pipeline/record"
)

// Tricky is text holding every character CEF escapes, in the header
// (`|`, `\`) and in the extension (`=`, `\`, line breaks).
const Tricky = "a|b\\c=d\ne\rf = g\\=h"

// Alert returns the i-th test alert: every field set, its strings full of
// the characters CEF escapes, IPv4 for even i and IPv6 for odd i.
func Alert(i int) *record.Alert {
	t0 := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
	src, dst := netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("192.0.2.7")
	if i%2 == 1 {
		src, dst = netip.MustParseAddr("2001:db8::5"), netip.MustParseAddr("2001:db8:1::7")
	}
	return &record.Alert{
		ID:              fmt.Sprintf("alert-%d|x=y\\z", i),
		Detection:       "port_scan|v\\1",
		Severity:        record.SeverityHigh,
		State:           record.AlertUpdated,
		Summary:         fmt.Sprintf("scan %d: %s", i, Tricky),
		FirstSeen:       t0.Add(-time.Minute),
		LastSeen:        t0.Add(-time.Second),
		Time:            t0,
		ExporterAddress: record.AddrFrom4([4]byte{198, 51, 100, 1}),
		SrcAddr:         record.Addr(src.As16()),
		DstAddr:         record.Addr(dst.As16()),
		SrcPort:         40000,
		DstPort:         22,
		Proto:           6,
		Bytes:           123456,
		Packets:         789,
		Flows:           1024,
		ThreatFeeds:     []string{"spamhaus-drop", "feed=odd"},
		DedupKey:        "port_scan/10.0.0.5/192.0.2.7",
		Details:         `{"ports":1024,"path":"C:\\x","eq":"a=b"}`,
	}
}

// CheckAlert checks a parsed CEF line against the alert it encodes:
// header fields, every extension key and its unescaped value.
func CheckAlert(tb testing.TB, ev Event, a *record.Alert, version, deviceID string, severity int) {
	tb.Helper()
	wantHeader := [7]string{"CEF:0", "sluice", "sluice", version, a.Detection, strings.ReplaceAll(a.Detection, "_", " "), strconv.Itoa(severity)}
	if ev.Header != wantHeader {
		tb.Errorf("header %q, want %q", ev.Header, wantHeader)
	}
	src, dst := a.SrcAddr.Netip(), a.DstAddr.Netip()
	want := map[string]string{
		"externalId": a.ID, "rt": ms(a.Time), "start": ms(a.FirstSeen), "end": ms(a.LastSeen),
		"cat": "alert", "act": a.State.String(),
		"spt": strconv.Itoa(int(a.SrcPort)), "dpt": strconv.Itoa(int(a.DstPort)), "proto": "TCP",
		"dvc": a.ExporterAddress.String(), "cnt": strconv.FormatUint(a.Flows, 10),
		"in": strconv.FormatUint(a.Bytes, 10), "cn1": strconv.FormatUint(a.Packets, 10), "cn1Label": "packets",
		"cs1": strings.Join(a.ThreatFeeds, ","), "cs1Label": "threatFeeds",
		"cs2": a.DedupKey, "cs2Label": "dedupKey", "cs3": a.Details, "cs3Label": "details",
		"cs4": a.Severity.String(), "cs4Label": "severity",
		"deviceExternalId": deviceID, "msg": a.Summary,
	}
	if src.Is4() {
		want["src"], want["dst"] = src.String(), dst.String()
	} else {
		want["c6a2"], want["c6a3"] = src.String(), dst.String()
		want["c6a2Label"], want["c6a3Label"] = "Source IPv6 Address", "Destination IPv6 Address"
	}
	for k, v := range want {
		if got, ok := ev.Extension[k]; !ok || got != v {
			tb.Errorf("extension %s = %q (present %v), want %q", k, got, ok, v)
		}
	}
	for k := range ev.Extension {
		if _, ok := want[k]; !ok {
			tb.Errorf("unexpected extension key %s=%q", k, ev.Extension[k])
		}
	}
}

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
