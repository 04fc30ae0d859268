package tshark

import (
	"path/filepath"
	"testing"

	"sluice/internal/pcap"
	"sluice/internal/testenv"
)

// Every corpus capture decodes, and record counts agree with tshark's own
// count fields where the protocol has one (v5 header count, sFlow flow
// samples), checking the flattening of the JSON tree.
func TestDecodeCorpus(t *testing.T) {
	tshark := testenv.Tshark(t)
	dir := testenv.CorpusDir(t)
	for _, name := range []string{"akvorado__nfv5.pcap", "akvorado__sflow-1140.pcap", "akvorado__nfv9-options-sampling.pcap"} {
		records, frames, err := Decode(tshark, filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		datagrams, _, err := pcap.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if len(frames) < len(datagrams) {
			t.Errorf("%s: %d frames, %d datagrams", name, len(frames), len(datagrams))
		}
		want := 0
		for _, f := range frames {
			switch {
			case f.Header["cflow.version"] != nil && f.Header["cflow.version"][0] == "5":
				n, _ := (&Record{Header: f.Header}).Uint("cflow.count")
				want += int(n)
			}
		}
		switch name {
		case "akvorado__nfv5.pcap":
			if len(records) != want || want == 0 {
				t.Errorf("%s: %d records, header counts say %d", name, len(records), want)
			}
		case "akvorado__sflow-1140.pcap":
			for _, r := range records {
				if _, ok := r.Uint("sflow.flow_sample.sampling_rate"); !ok {
					t.Errorf("%s: record %d/%d has no sampling rate: %v", name, r.Frame, r.Index, r.Fields)
				}
			}
			if len(records) == 0 {
				t.Errorf("%s: no records", name)
			}
		case "akvorado__nfv9-options-sampling.pcap":
			// Frame 2 holds options data only: not flows.
			for _, r := range records {
				if r.Frame != 4 {
					t.Errorf("%s: record in frame %d, want only frame 4's data", name, r.Frame)
				}
			}
		}
	}
}
