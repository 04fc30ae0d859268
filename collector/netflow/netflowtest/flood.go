// Package netflowtest builds NetFlow v9 datagrams for tests of the template
// store under attack: a flood of templates no data record uses, as a
// spoofed-source attack sends, and the templates and data of a real
// exporter.
package netflowtest

import (
	"encoding/binary"
	"math/rand/v2"
	"sync"
)

// FloodDatagram returns a NetFlow v9 datagram holding one template set of
// templates template records of fields fields each, under a random source
// ID (observation domain) and random template IDs, so that no two
// datagrams share their templates. No data record uses them.
func FloodDatagram(rng *rand.Rand, templates, fields int) []byte {
	b := v9Header(uint16(templates), rng.Uint32())
	setStart := len(b)
	b = binary.BigEndian.AppendUint16(b, 0) // template set
	b = binary.BigEndian.AppendUint16(b, 0) // its length, below
	for range templates {
		b = binary.BigEndian.AppendUint16(b, uint16(256+rng.IntN(65536-256)))
		b = binary.BigEndian.AppendUint16(b, uint16(fields))
		for f := range fields {
			b = binary.BigEndian.AppendUint16(b, uint16(1+f)) // IANA elements 1…
			b = binary.BigEndian.AppendUint16(b, 4)
		}
	}
	binary.BigEndian.PutUint16(b[setStart+2:], uint16(len(b)-setStart))
	return b
}

// ExporterTemplateID is the template of ExporterTemplate and ExporterData.
const ExporterTemplateID = 256

// exporterFields is the template a real exporter announces: source and
// destination IPv4 address, bytes, packets, protocol, source and
// destination port (21 bytes a record).
var exporterFields = [][2]uint16{{8, 4}, {12, 4}, {1, 4}, {2, 4}, {4, 1}, {7, 2}, {11, 2}}

const exporterRecordLen = 21

// ExporterTemplate returns a datagram announcing the template of
// ExporterData under source ID sourceID.
func ExporterTemplate(sourceID uint32) []byte {
	b := v9Header(1, sourceID)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(4+4+4*len(exporterFields)))
	b = binary.BigEndian.AppendUint16(b, ExporterTemplateID)
	b = binary.BigEndian.AppendUint16(b, uint16(len(exporterFields)))
	for _, f := range exporterFields {
		b = binary.BigEndian.AppendUint16(b, f[0])
		b = binary.BigEndian.AppendUint16(b, f[1])
	}
	return b
}

// ExporterData returns a datagram of records data records for the template
// of ExporterTemplate. Record i comes from 10.0.0.1 port first+i, so that
// the flows of a test can be told apart.
func ExporterData(sourceID uint32, first, records int) []byte {
	b := v9Header(uint16(records), sourceID)
	b = binary.BigEndian.AppendUint16(b, ExporterTemplateID)
	setLen := 4 + exporterRecordLen*records
	pad := (4 - setLen%4) % 4
	b = binary.BigEndian.AppendUint16(b, uint16(setLen+pad))
	for i := range records {
		b = append(b, 10, 0, 0, 1, 192, 0, 2, 1)
		b = binary.BigEndian.AppendUint32(b, 1500)
		b = binary.BigEndian.AppendUint32(b, 1)
		b = append(b, 6)
		b = binary.BigEndian.AppendUint16(b, uint16(first+i))
		b = binary.BigEndian.AppendUint16(b, 443)
	}
	return append(b, make([]byte, pad)...)
}

// v9Header is a NetFlow v9 header counting count records.
func v9Header(count uint16, sourceID uint32) []byte {
	b := make([]byte, 0, 2048)
	b = binary.BigEndian.AppendUint16(b, 9)
	b = binary.BigEndian.AppendUint16(b, count)
	b = binary.BigEndian.AppendUint32(b, 60_000)        // sysUpTime
	b = binary.BigEndian.AppendUint32(b, 1_796_601_600) // export time
	b = binary.BigEndian.AppendUint32(b, 1)             // sequence
	return binary.BigEndian.AppendUint32(b, sourceID)
}

// Log collects log lines written by a slog handler, safe to read while
// other goroutines (a rate limiter's reports) write.
type Log struct {
	mu  sync.Mutex
	buf []byte
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	return len(p), nil
}

// String returns what was written so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.buf)
}
