package pcap

import (
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"os"
)

// Writer writes a classic pcap file (microsecond timestamps, little
// endian). It exists for tests that record what exporters send, and to
// make input captures for real exporters.
type Writer struct {
	w       io.Writer
	scratch []byte
}

// NewWriter writes the global header for linkType and returns a writer of
// its records.
func NewWriter(w io.Writer, linkType uint32) (*Writer, error) {
	var h [24]byte
	binary.LittleEndian.PutUint32(h[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], maxSnapLen)
	binary.LittleEndian.PutUint32(h[20:], linkType)
	if _, err := w.Write(h[:]); err != nil {
		return nil, fmt.Errorf("pcap: write header: %w", err)
	}
	return &Writer{w: w}, nil
}

// WritePacket writes one record holding data, captured at tsNanos (Unix
// nanoseconds).
func (wr *Writer) WritePacket(tsNanos int64, data []byte) error {
	var h [16]byte
	binary.LittleEndian.PutUint32(h[0:], uint32(tsNanos/1e9))
	binary.LittleEndian.PutUint32(h[4:], uint32(tsNanos%1e9/1e3))
	binary.LittleEndian.PutUint32(h[8:], uint32(len(data)))
	binary.LittleEndian.PutUint32(h[12:], uint32(len(data)))
	if _, err := wr.w.Write(h[:]); err != nil {
		return fmt.Errorf("pcap: write record: %w", err)
	}
	if _, err := wr.w.Write(data); err != nil {
		return fmt.Errorf("pcap: write record: %w", err)
	}
	return nil
}

// WriteUDP writes a UDP datagram as a raw IP packet; the writer must have
// been made for LinkTypeRaw. Checksums are left zero (IPv4 header
// checksum computed), which tshark and the decoders accept.
func (wr *Writer) WriteUDP(tsNanos int64, src, dst netip.AddrPort, payload []byte) error {
	wr.scratch = AppendUDP(wr.scratch[:0], src, dst, payload)
	return wr.WritePacket(tsNanos, wr.scratch)
}

// AppendUDP appends an IPv4 or IPv6 packet carrying a UDP datagram to b.
func AppendUDP(b []byte, src, dst netip.AddrPort, payload []byte) []byte {
	udp := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(udp[0:], src.Port())
	binary.BigEndian.PutUint16(udp[2:], dst.Port())
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	udp = append(udp, payload...)
	return AppendIP(b, src.Addr(), dst.Addr(), 17, 64, udp)
}

// AppendIP appends an IPv4 (both addresses IPv4) or IPv6 packet with the
// given protocol, TTL and payload to b.
func AppendIP(b []byte, src, dst netip.Addr, proto, ttl uint8, payload []byte) []byte {
	if src.Is4() {
		start := len(b)
		b = append(b, 0x45, 0)
		b = binary.BigEndian.AppendUint16(b, uint16(20+len(payload)))
		b = append(b, 0, 0, 0x40, 0, ttl, proto, 0, 0)
		s, d := src.As4(), dst.As4()
		b = append(b, s[:]...)
		b = append(b, d[:]...)
		binary.BigEndian.PutUint16(b[start+10:], ipv4Checksum(b[start:start+20]))
		return append(b, payload...)
	}
	b = append(b, 0x60, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(payload)))
	b = append(b, proto, ttl)
	s, d := src.As16(), dst.As16()
	b = append(b, s[:]...)
	b = append(b, d[:]...)
	return append(b, payload...)
}

func ipv4Checksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i < len(h); i += 2 {
		sum += uint32(h[i])<<8 | uint32(h[i+1])
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// WriteUDPFile writes a raw-IP capture at path of datagrams sent from src
// to dst, one a second: what a test hands tshark as an exporter's traffic.
func WriteUDPFile(path string, src, dst netip.AddrPort, datagrams [][]byte) error {
	file, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("pcap: %w", err)
	}
	w, err := NewWriter(file, LinkTypeRaw)
	if err != nil {
		file.Close()
		return err
	}
	for i, d := range datagrams {
		if err := w.WriteUDP(int64(i+1)*1e9, src, dst, d); err != nil {
			file.Close()
			return err
		}
	}
	if err := file.Close(); err != nil {
		return fmt.Errorf("pcap: %w", err)
	}
	return nil
}
