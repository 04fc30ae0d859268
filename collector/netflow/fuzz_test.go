package netflow

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sluice/collector/decodeerr"
	"sluice/internal/pcap"
	"sluice/internal/testenv"
	"sluice/pipeline/record"
)

// corpusPayloads returns the datagrams of every NetFlow/IPFIX capture of the
// corpus, or nil when the corpus is absent outside CI (fuzzing then starts
// from the built-in seeds).
func corpusPayloads(tb testing.TB) [][]byte {
	dir, ok := testenv.CorpusDirIfPresent(tb)
	if !ok {
		return nil
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.pcap"))
	var payloads [][]byte
	for _, file := range files {
		if strings.Contains(filepath.Base(file), "sflow") {
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
	payloads := corpusPayloads(f)
	for _, p := range payloads {
		f.Add(p)
	}
	// Built-in seeds: headers of each version, and a tiny IPFIX message
	// with a template and a data set.
	f.Add([]byte{0, 5, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0, 9, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(ipfixMessage(set(2, 1, 0, 0, 1, 0, 8, 0, 4), set(256, 192, 0, 2, 10)))

	// Each input starts from the templates the seeds announce, so mutated
	// data sets reach the field extraction; restoring a snapshot is much
	// cheaper than replaying the corpus for every input.
	primed := New(Config{})
	for _, p := range payloads {
		primed.Decode(testExporter, 1, p, noEmit)
	}
	snapshot := primed.Templates().Snapshot()

	f.Fuzz(func(t *testing.T, payload []byte) {
		d := New(Config{})
		d.Templates().Restore(snapshot, time.Unix(0, 1))
		_, err := d.Decode(testExporter, 1, payload, func(f *record.Flow) {
			if f.SamplingRate == 0 {
				t.Fatal("flow with zero sampling rate")
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
