package main

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
)

// ipfixE2E builds an IPFIX message (observation domain 3) from sets, each
// given as its ID and body.
func ipfixE2E(sets ...[]byte) []byte {
	msg := binary.BigEndian.AppendUint16(nil, 10)
	msg = binary.BigEndian.AppendUint16(msg, 0) // length, set below
	msg = binary.BigEndian.AppendUint32(msg, uint32(time.Now().Unix()))
	msg = binary.BigEndian.AppendUint32(msg, 1)
	msg = binary.BigEndian.AppendUint32(msg, 3)
	for _, s := range sets {
		msg = append(msg, s...)
	}
	binary.BigEndian.PutUint16(msg[2:], uint16(len(msg)))
	return msg
}

func ipfixSetE2E(id uint16, words ...uint16) []byte {
	s := binary.BigEndian.AppendUint16(nil, id)
	s = binary.BigEndian.AppendUint16(s, uint16(4+2*len(words)))
	for _, w := range words {
		s = binary.BigEndian.AppendUint16(s, w)
	}
	return s
}

// `sluice run` stores the interface names an exporter's IPFIX options data
// announced (interfaceName, interfaceDescription by ingressInterface) on
// that exporter's flows.
func TestRunStoresOptionsInterfaceNames(t *testing.T) {
	requireChdb(t)
	in := startSluice(t, t.TempDir())
	s := newSender(t)
	from := netip.MustParseAddr("127.0.3.1")
	// Options template 300: scope ingressInterface (4), interfaceName (16),
	// interfaceDescription (32), fixed lengths padded with NULs.
	options := ipfixSetE2E(3, 300, 3, 1, 10, 4, 82, 16, 83, 32)
	// Data template 256: ingressInterface, egressInterface, octetDeltaCount, packetDeltaCount.
	data := ipfixSetE2E(2, 256, 4, 10, 4, 14, 4, 1, 8, 2, 8)
	names := func(ifIndex uint32, name, descr string) []byte {
		b := binary.BigEndian.AppendUint32(nil, ifIndex)
		b = append(b, append([]byte(name), make([]byte, 16-len(name))...)...)
		return append(b, append([]byte(descr), make([]byte, 32-len(descr))...)...)
	}
	optionsData := append(binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, 300), 4+2*52), append(names(5, "et-0/0/5", "transit: AS64500"), names(9, "ae9", "")...)...)
	var flows []byte
	for _, pair := range [][2]uint32{{5, 9}, {9, 5}, {5, 7}} {
		flows = binary.BigEndian.AppendUint32(flows, pair[0])
		flows = binary.BigEndian.AppendUint32(flows, pair[1])
		flows = binary.BigEndian.AppendUint64(flows, 1000)
		flows = binary.BigEndian.AppendUint64(flows, 1)
	}
	flowData := append(binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, 256), uint16(4+len(flows))), flows...)
	s.send(from, in.netflow, ipfixE2E(options, data, optionsData))
	s.send(from, in.netflow, ipfixE2E(flowData))

	const q = "SELECT InIfIndex, InIfName, InIfDescription, OutIfIndex, OutIfName, OutIfDescription FROM flows ORDER BY InIfIndex, OutIfIndex"
	waitRows(t, in, q, "5\tet-0/0/5\ttransit: AS64500\t7\t\t\n5\tet-0/0/5\ttransit: AS64500\t9\tae9\t\n9\tae9\t\t5\tet-0/0/5\ttransit: AS64500")
	in.stop()
}
