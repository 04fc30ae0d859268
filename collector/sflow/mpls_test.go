package sflow

import (
	"encoding/binary"
	"testing"

	"sluice/pipeline/record"
)

// A sampled Ethernet frame carrying an MPLS stack of four labels (RFC 3032:
// label<<12 | traffic class<<9 | bottom-of-stack<<8 | TTL) over IPv4: the
// first three labels are kept, and the IPv4 header under the stack is read.
func TestMPLSInSampledHeader(t *testing.T) {
	frame := []byte{
		0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, // MACs
		0x88, 0x47, // MPLS unicast
	}
	for i, label := range []uint32{16, 1048575, 24001, 3} {
		bottom := uint32(0)
		if i == 3 {
			bottom = 1
		}
		frame = binary.BigEndian.AppendUint32(frame, label<<12|5<<9|bottom<<8|64)
	}
	frame = append(frame,
		0x45, 0, 0, 40, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 2, // IPv4, UDP
		0x30, 0x39, 0, 53, 0, 20, 0, 0) // ports 12345 → 53
	var f record.Flow
	l3, status := parseSampledHeader(headerProtocolEthernet, frame, &f)
	if status != headerParsed || l3 != 40 {
		t.Fatalf("status %d, length %d", status, l3)
	}
	if f.MPLS1stLabel != 16 || f.MPLS2ndLabel != 1048575 || f.MPLS3rdLabel != 24001 {
		t.Errorf("labels %d %d %d, want 16 1048575 24001", f.MPLS1stLabel, f.MPLS2ndLabel, f.MPLS3rdLabel)
	}
	if f.SrcAddr != record.AddrFrom4([4]byte{192, 0, 2, 1}) || f.DstPort != 53 || f.Proto != 17 {
		t.Errorf("IP under the stack: %+v", f)
	}
}
