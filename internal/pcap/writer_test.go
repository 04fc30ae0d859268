package pcap

import (
	"bytes"
	"net/netip"
	"testing"
)

// What the writer writes, the reader reads back.
func TestWriterRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, LinkTypeRaw)
	if err != nil {
		t.Fatal(err)
	}
	src4, dst4 := netip.MustParseAddrPort("192.0.2.1:5000"), netip.MustParseAddrPort("198.51.100.2:2055")
	src6, dst6 := netip.MustParseAddrPort("[2001:db8::1]:5001"), netip.MustParseAddrPort("[2001:db8::2]:4739")
	if err := w.WriteUDP(1_700_000_000_123_456_000, src4, dst4, []byte("four")); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteUDP(1_700_000_001_000_000_000, src6, dst6, []byte("six!!")); err != nil {
		t.Fatal(err)
	}
	rd, err := NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		src, dst netip.AddrPort
		ts       int64
		payload  string
	}{{src4, dst4, 1_700_000_000_123_456_000, "four"}, {src6, dst6, 1_700_000_001_000_000_000, "six!!"}} {
		dg, err := rd.Next()
		if err != nil {
			t.Fatal(err)
		}
		if dg.Frame != i+1 || dg.Timestamp != want.ts || netip.AddrPortFrom(dg.Src, dg.SrcPort) != want.src ||
			netip.AddrPortFrom(dg.Dst, dg.DstPort) != want.dst || string(dg.Payload) != want.payload {
			t.Errorf("datagram %d: %+v", i, dg)
		}
	}
	if h := AppendIP(nil, src4.Addr(), dst4.Addr(), 6, 64, nil); ipv4Checksum(h[:20]) != 0 {
		t.Error("IPv4 header checksum does not verify")
	}
}
