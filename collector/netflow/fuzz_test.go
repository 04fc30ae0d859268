package netflow

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sluice/collector/pcap"
	"sluice/pipeline/record"
)

// corpusPayloads returns the datagrams of every NetFlow/IPFIX capture of the
// corpus, or nil when the corpus is absent (fuzzing then starts from the
// built-in seeds).
func corpusPayloads(tb testing.TB) [][]byte {
	dir := ""
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				dir = filepath.Join(d, "..", "shared", "corpus")
				break
			}
			if filepath.Dir(d) == d {
				break
			}
		}
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

	f.Fuzz(func(t *testing.T, payload []byte) {
		// Each input starts from the templates the seeds announce, so
		// mutated data sets reach the field extraction.
		d := New(Config{})
		for _, p := range payloads {
			d.Decode(testExporter, 1, p, noEmit)
		}
		_, err := d.Decode(testExporter, 1, payload, func(f *record.Flow) {
			if f.SamplingRate == 0 {
				t.Fatal("flow with zero sampling rate")
			}
		})
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a *DecodeError", err)
			}
		}
		if d.Panics() != 0 {
			t.Fatalf("decoder panicked: %v", err)
		}
	})
}
