package interop

import (
	"encoding/binary"
	"net/netip"
	"os"
	"testing"
	"time"

	"sluice/internal/pcap"
)

// trafficStart is when the generated traffic begins.
var trafficStart = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// writeTraffic writes an Ethernet capture of ordinary traffic for the
// exporters to read: 48 conversations (IPv4 and IPv6, TCP with SYN, ACK and
// FIN, UDP, ICMP echo), each of 1 to 12 packets of various sizes, spread
// over 30 seconds. It is deterministic. It returns the number of packets
// and IP bytes per address family.
func writeTraffic(t *testing.T, path string) (packets4, bytes4, packets6, bytes6 int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := pcap.NewWriter(f, pcap.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	type packet struct {
		at    time.Duration
		frame []byte
	}
	var packets []packet
	for c := range 48 {
		v6 := c%4 == 3
		var src, dst netip.Addr
		if v6 {
			src = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(c)})
			dst = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 1, 15: byte(100 + c)})
		} else {
			src = netip.AddrFrom4([4]byte{10, 0, byte(c / 16), byte(c)})
			dst = netip.AddrFrom4([4]byte{192, 0, 2, byte(100 + c%50)})
		}
		proto := []uint8{6, 6, 17, 6, 1, 6}[c%6]
		if v6 && proto == 1 {
			proto = 58
		}
		n := 1 + (c*7)%12
		sport, dport := uint16(40000+c), []uint16{443, 80, 53, 22, 0, 8080}[c%6]
		for i := range n {
			size := 40 + (c*37+i*101)%1400
			var l4 []byte
			switch proto {
			case 6:
				l4 = make([]byte, 20, 20+size)
				binary.BigEndian.PutUint16(l4[0:], sport)
				binary.BigEndian.PutUint16(l4[2:], dport)
				l4[12] = 5 << 4
				switch {
				case i == 0:
					l4[13] = 0x02 // SYN
				case i == n-1:
					l4[13] = 0x11 // FIN ACK
				default:
					l4[13] = 0x18 // PSH ACK
				}
			case 17:
				l4 = make([]byte, 8, 8+size)
				binary.BigEndian.PutUint16(l4[0:], sport)
				binary.BigEndian.PutUint16(l4[2:], dport)
				binary.BigEndian.PutUint16(l4[4:], uint16(8+size))
			default: // ICMP or ICMPv6 echo request
				l4 = make([]byte, 8, 8+size)
				l4[0] = 8
				if proto == 58 {
					l4[0] = 128
				}
			}
			l4 = append(l4, make([]byte, size)...)
			frame := []byte{0x02, 0, 0, 0, 0, byte(c), 0x02, 0, 0, 0, 1, byte(c)}
			if v6 {
				frame = append(frame, 0x86, 0xdd)
			} else {
				frame = append(frame, 0x08, 0x00)
			}
			frame = pcap.AppendIP(frame, src, dst, proto, 64, l4)
			ipLen := len(frame) - 14
			if v6 {
				packets6++
				bytes6 += ipLen
			} else {
				packets4++
				bytes4 += ipLen
			}
			at := time.Duration(c)*500*time.Millisecond + time.Duration(i)*700*time.Millisecond
			packets = append(packets, packet{at, frame})
		}
	}
	// In time order, as a capture is.
	for i := 1; i < len(packets); i++ {
		for j := i; j > 0 && packets[j].at < packets[j-1].at; j-- {
			packets[j], packets[j-1] = packets[j-1], packets[j]
		}
	}
	for _, p := range packets {
		if err := w.WritePacket(trafficStart.Add(p.at).UnixNano(), p.frame); err != nil {
			t.Fatal(err)
		}
	}
	return packets4, bytes4, packets6, bytes6
}
