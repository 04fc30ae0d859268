package sflow

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"sluice/collector/decodeerr"
	"sluice/internal/pcap"
	"sluice/internal/testenv"
	"sluice/pipeline/record"
)

// corpusPayloads returns the datagrams of every sFlow capture of the
// corpus, or nil when the corpus is absent outside CI (fuzzing then starts
// from the built-in seed).
func corpusPayloads(tb testing.TB) [][]byte {
	dir, ok := testenv.CorpusDirIfPresent(tb)
	if !ok {
		return nil
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.pcap"))
	var payloads [][]byte
	for _, file := range files {
		if !strings.Contains(filepath.Base(file), "sflow") {
			continue
		}
		datagrams, _, err := pcap.ReadFile(file)
		if err != nil {
			tb.Fatal(err)
		}
		for _, dg := range datagrams {
			payloads = append(payloads, dg.Payload)
		}
	}
	return payloads
}

func FuzzDecode(f *testing.F) {
	for _, p := range corpusPayloads(f) {
		f.Add(p)
	}
	// Built-in seed: a datagram with one flow sample holding an Ethernet/IPv4/TCP header.
	f.Add([]byte{
		0, 0, 0, 5, 0, 0, 0, 1, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, // header, 1 sample
		0, 0, 0, 1, 0, 0, 0, 104, // flow sample, 104 bytes
		0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 100, 0, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1,
		0, 0, 0, 1, 0, 0, 0, 56, // raw header record, 56 bytes
		0, 0, 0, 1, 0, 0, 0, 60, 0, 0, 0, 4, 0, 0, 0, 40, // ethernet, frame 60, stripped 4, 40 bytes of header
		2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0, // ethernet
		0x45, 0, 0, 40, 0, 1, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, // IPv4
		0, 80, 1, 187, 0, 0, // TCP ports (header cut)
	})
	f.Fuzz(func(t *testing.T, payload []byte) {
		d := New(Config{Decapsulate: DecapsulateVXLAN | DecapsulateGRE})
		_, err := d.DecodeWithCounters(record.AddrFrom4([4]byte{192, 0, 2, 1}), 1, payload, func(f *record.Flow) {
			if f.SamplingRate == 0 || f.Packets != 1 {
				t.Fatal("flow without sampling rate or packet count")
			}
		}, func(c *record.Counter) {
			if !c.HasGeneric && !c.HasEthernet {
				t.Fatal("counter record without counters")
			}
		})
		if err != nil {
			var de *decodeerr.Error
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a *decodeerr.Error", err)
			}
		}
		if d.Panics() != 0 {
			t.Fatalf("decoder panicked: %v", err)
		}
	})
}
