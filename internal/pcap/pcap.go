// Package pcap reads classic libpcap capture files and yields the UDP
// datagrams they contain. It exists so that tests, fuzz seeds and a future
// replay input can feed recorded flow exports to the decoders without a cgo
// libpcap or a third-party module.
//
// Supported: the four classic magics (microsecond and nanosecond timestamps,
// either byte order), link types Ethernet (with 802.1Q/802.1ad tags), Linux
// cooked capture (SLL) and raw IPv4/IPv6. pcapng is not supported. Packets
// that are not complete, unfragmented UDP over IPv4 or IPv6 are skipped and
// counted.
package pcap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
)

// Link types (https://www.tcpdump.org/linktypes.html).
const (
	LinkTypeEthernet = 1
	LinkTypeRaw      = 101 // raw IPv4 or IPv6, version from the first nibble
	LinkTypeLinuxSLL = 113
	LinkTypeIPv4     = 228
	LinkTypeIPv6     = 229
	// LinkTypeRawOpenBSD is DLT_RAW as OpenBSD numbers it (12); seen in old captures.
	LinkTypeRawOpenBSD = 12
)

// maxSnapLen bounds a record's length so a corrupt header cannot make the
// reader allocate gigabytes.
const maxSnapLen = 256 * 1024

// ErrNotPcap is returned when a file does not start with a classic pcap magic.
var ErrNotPcap = errors.New("not a classic pcap file")

// Datagram is one UDP datagram read from a capture. Payload aliases the
// reader's buffer and is only valid until the next call to Next.
type Datagram struct {
	Frame     int   // 1-based number of the capture record, as tshark numbers frames
	Timestamp int64 // Unix nanoseconds
	Src       netip.Addr
	Dst       netip.Addr
	SrcPort   uint16
	DstPort   uint16
	Payload   []byte
}

// Skipped counts packets that Next passed over, by reason.
type Skipped struct {
	NonIP     int // link-layer payload is not IPv4/IPv6
	NonUDP    int // IP payload is not UDP (IPv6 extension headers included)
	Fragments int // IPv4 fragments or IPv6 fragment headers
	Truncated int // captured length too short for the headers
}

// Total is the number of skipped packets.
func (s Skipped) Total() int { return s.NonIP + s.NonUDP + s.Fragments + s.Truncated }

// Reader reads UDP datagrams from a classic pcap stream.
type Reader struct {
	r        io.Reader
	order    binary.ByteOrder
	nanos    bool
	linkType uint32
	header   [16]byte
	buf      []byte
	skipped  Skipped
	frames   int
}

// NewReader reads the global header from r and returns a reader for its
// records.
func NewReader(r io.Reader) (*Reader, error) {
	var global [24]byte
	if _, err := io.ReadFull(r, global[:]); err != nil {
		return nil, fmt.Errorf("pcap: reading global header: %w", err)
	}
	rd := &Reader{r: r}
	switch binary.LittleEndian.Uint32(global[0:4]) {
	case 0xa1b2c3d4:
		rd.order = binary.LittleEndian
	case 0xa1b23c4d:
		rd.order, rd.nanos = binary.LittleEndian, true
	case 0xd4c3b2a1:
		rd.order = binary.BigEndian
	case 0x4d3cb2a1:
		rd.order, rd.nanos = binary.BigEndian, true
	default:
		return nil, ErrNotPcap
	}
	// The link type's upper bits may carry FCS information (pcap spec).
	rd.linkType = rd.order.Uint32(global[20:24]) & 0x0fffffff
	switch rd.linkType {
	case LinkTypeEthernet, LinkTypeRaw, LinkTypeRawOpenBSD, LinkTypeLinuxSLL, LinkTypeIPv4, LinkTypeIPv6:
	default:
		return nil, fmt.Errorf("pcap: unsupported link type %d", rd.linkType)
	}
	return rd, nil
}

// LinkType returns the capture's link type.
func (rd *Reader) LinkType() uint32 { return rd.linkType }

// Skipped returns the counts of packets skipped so far.
func (rd *Reader) Skipped() Skipped { return rd.skipped }

// Next returns the next UDP datagram. It returns io.EOF at the end of the
// capture, and io.ErrUnexpectedEOF if the last record is cut short.
func (rd *Reader) Next() (Datagram, error) {
	for {
		if _, err := io.ReadFull(rd.r, rd.header[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return Datagram{}, io.EOF
			}
			return Datagram{}, fmt.Errorf("pcap: reading record header: %w", err)
		}
		seconds := int64(rd.order.Uint32(rd.header[0:4]))
		fraction := int64(rd.order.Uint32(rd.header[4:8]))
		capLen := rd.order.Uint32(rd.header[8:12])
		if capLen > maxSnapLen {
			return Datagram{}, fmt.Errorf("pcap: record length %d exceeds %d", capLen, maxSnapLen)
		}
		if cap(rd.buf) < int(capLen) {
			rd.buf = make([]byte, capLen)
		}
		data := rd.buf[:capLen]
		if _, err := io.ReadFull(rd.r, data); err != nil {
			return Datagram{}, fmt.Errorf("pcap: reading record: %w", io.ErrUnexpectedEOF)
		}
		if !rd.nanos {
			fraction *= 1000
		}
		rd.frames++
		dg := Datagram{Frame: rd.frames, Timestamp: seconds*1e9 + fraction}
		if rd.parseLink(data, &dg) {
			return dg, nil
		}
	}
}

// parseLink strips the link layer and parses the IP and UDP headers into dg.
// It reports false (and counts why) for packets it skips.
func (rd *Reader) parseLink(data []byte, dg *Datagram) bool {
	var etherType uint16
	switch rd.linkType {
	case LinkTypeEthernet:
		if len(data) < 14 {
			rd.skipped.Truncated++
			return false
		}
		etherType = binary.BigEndian.Uint16(data[12:14])
		data = data[14:]
		for etherType == 0x8100 || etherType == 0x88a8 || etherType == 0x9100 {
			if len(data) < 4 {
				rd.skipped.Truncated++
				return false
			}
			etherType = binary.BigEndian.Uint16(data[2:4])
			data = data[4:]
		}
	case LinkTypeLinuxSLL:
		if len(data) < 16 {
			rd.skipped.Truncated++
			return false
		}
		etherType = binary.BigEndian.Uint16(data[14:16])
		data = data[16:]
	case LinkTypeRaw, LinkTypeRawOpenBSD, LinkTypeIPv4, LinkTypeIPv6:
		if len(data) < 1 {
			rd.skipped.Truncated++
			return false
		}
		switch data[0] >> 4 {
		case 4:
			etherType = 0x0800
		case 6:
			etherType = 0x86dd
		}
	}
	switch etherType {
	case 0x0800:
		return rd.parseIPv4(data, dg)
	case 0x86dd:
		return rd.parseIPv6(data, dg)
	}
	rd.skipped.NonIP++
	return false
}

func (rd *Reader) parseIPv4(data []byte, dg *Datagram) bool {
	if len(data) < 20 || data[0]>>4 != 4 {
		rd.skipped.Truncated++
		return false
	}
	headerLen := int(data[0]&0x0f) * 4
	totalLen := int(binary.BigEndian.Uint16(data[2:4]))
	if headerLen < 20 || totalLen < headerLen || len(data) < headerLen {
		rd.skipped.Truncated++
		return false
	}
	// More-fragments flag or a non-zero offset: the UDP payload is incomplete.
	if binary.BigEndian.Uint16(data[6:8])&0x3fff != 0 {
		rd.skipped.Fragments++
		return false
	}
	if data[9] != 17 {
		rd.skipped.NonUDP++
		return false
	}
	// Trust the IP total length over the capture length (Ethernet padding).
	if totalLen < len(data) {
		data = data[:totalLen]
	}
	dg.Src = netip.AddrFrom4([4]byte(data[12:16]))
	dg.Dst = netip.AddrFrom4([4]byte(data[16:20]))
	return rd.parseUDP(data[headerLen:], dg)
}

func (rd *Reader) parseIPv6(data []byte, dg *Datagram) bool {
	if len(data) < 40 || data[0]>>4 != 6 {
		rd.skipped.Truncated++
		return false
	}
	payloadLen := int(binary.BigEndian.Uint16(data[4:6]))
	switch data[6] {
	case 17:
	case 44:
		rd.skipped.Fragments++
		return false
	default:
		// Extension headers are rare in flow export; skip rather than walk them.
		rd.skipped.NonUDP++
		return false
	}
	dg.Src = netip.AddrFrom16([16]byte(data[8:24]))
	dg.Dst = netip.AddrFrom16([16]byte(data[24:40]))
	data = data[40:]
	if payloadLen < len(data) {
		data = data[:payloadLen]
	}
	return rd.parseUDP(data, dg)
}

func (rd *Reader) parseUDP(data []byte, dg *Datagram) bool {
	if len(data) < 8 {
		rd.skipped.Truncated++
		return false
	}
	udpLen := int(binary.BigEndian.Uint16(data[4:6]))
	if udpLen < 8 || udpLen > len(data) {
		rd.skipped.Truncated++
		return false
	}
	dg.SrcPort = binary.BigEndian.Uint16(data[0:2])
	dg.DstPort = binary.BigEndian.Uint16(data[2:4])
	dg.Payload = data[8:udpLen]
	return true
}

// ReadFile reads every UDP datagram of a capture file. Payloads are copied,
// so the result stays valid; this is for tests and small captures.
func ReadFile(path string) ([]Datagram, Skipped, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Skipped{}, err
	}
	defer f.Close()
	rd, err := NewReader(f)
	if err != nil {
		return nil, Skipped{}, fmt.Errorf("%s: %w", path, err)
	}
	var out []Datagram
	for {
		dg, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return out, rd.Skipped(), nil
		}
		if err != nil {
			return out, rd.Skipped(), fmt.Errorf("%s: %w", path, err)
		}
		dg.Payload = append([]byte(nil), dg.Payload...)
		out = append(out, dg)
	}
}
