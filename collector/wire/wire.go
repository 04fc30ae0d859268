// Package wire holds the numbers and encodings of link- and network-layer
// headers that more than one flow decoder reads: EtherTypes, IP protocol
// numbers and MAC addresses.
package wire

// EtherTypes (IEEE 802 numbers).
const (
	EtherTypeIPv4  = 0x0800
	EtherTypeIPv6  = 0x86dd
	EtherTypeVLAN  = 0x8100 // 802.1Q
	EtherTypeQinQ  = 0x88a8 // 802.1ad
	EtherTypeQinQ2 = 0x9100 // pre-standard QinQ
	EtherTypeMPLS  = 0x8847 // MPLS unicast
)

// IP protocol numbers (IANA).
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
)

// MACToUint64 packs a 6-byte MAC address into the low 48 bits; any other
// length gives 0.
func MACToUint64(b []byte) uint64 {
	if len(b) != 6 {
		return 0
	}
	return uint64(b[0])<<40 | uint64(b[1])<<32 | uint64(b[2])<<24 | uint64(b[3])<<16 | uint64(b[4])<<8 | uint64(b[5])
}
