package netflow

import (
	"strconv"
	"testing"

	"sluice/collector/templates"
	"sluice/internal/testenv"
	"sluice/internal/tshark"
	"sluice/pipeline/record"
)

// optionsDifferences are the captures whose options or templates differ
// from tshark's, each with its reason; an entry that matches no
// difference fails the test.
var optionsDifferences = map[string]string{
	"logstash__nf9-invalid01.pcap": "the v9 header counts 2 records where the datagram has 3 sets: tshark stops at the count, " +
		"sluice reads every set (as in tsharkDifferences)",
}

// TestOptionsMatchTshark: in every NetFlow v9/IPFIX capture, each datagram
// holds as many template and options data records for sluice as for
// tshark, and every sampling rate an options record announces is the rate
// sluice then holds for its exporter, observation domain and sampler.
// (Interface names from options: TestInterfaceNamesCorpusMatchTshark.)
func TestOptionsMatchTshark(t *testing.T) {
	c := tshark.NewComparison(t, testenv.Tshark(t), "options record", nil)
	used := map[string]bool{}
	totalOptions, totalRates := 0, 0
	for cp := range c.Captures(corpusDir(t), isNetFlow) {
		frames := map[int]*tshark.Frame{}
		for i := range cp.Frames {
			frames[cp.Frames[i].Number] = &cp.Frames[i]
		}
		d := New(Config{})
		var diffs []string
		options, rates := 0, 0
		for _, dg := range cp.Datagrams {
			fr := frames[dg.Frame]
			if fr == nil {
				continue
			}
			exporter := record.AddrFromSlice(dg.Src.AsSlice())
			st, _ := d.Decode(exporter, dg.Timestamp, dg.Payload, noEmit)
			if st.OptionsRecords != len(fr.Options) || st.Templates != fr.Templates {
				diffs = append(diffs, "frame "+strconv.Itoa(dg.Frame)+": sluice "+strconv.Itoa(st.OptionsRecords)+" options and "+strconv.Itoa(st.Templates)+
					" templates, tshark "+strconv.Itoa(len(fr.Options))+" and "+strconv.Itoa(fr.Templates))
			}
			options += len(fr.Options)
			h := d.Templates().Handle(exporter, dg.Timestamp)
			domainField := "cflow.source_id"
			if st.Version == 10 {
				domainField = "cflow.od_id"
			}
			domain, _ := strconv.ParseUint(first(fr.Header[domainField]), 0, 32)
			for _, o := range fr.Options {
				want, ok := (&tsharkContext{samplers: map[string]uint64{}}).rateOf(o)
				if !ok {
					continue
				}
				sampler, _ := strconv.ParseUint(first(append(o["cflow.sampler_id"], o["cflow.selector_id"]...)), 0, 64)
				got, _ := h.SamplingRate(templates.SamplerKey{Version: st.Version, ObservationDomain: uint32(domain), SamplerID: sampler})
				if got != want {
					diffs = append(diffs, "frame "+strconv.Itoa(dg.Frame)+" sampler "+strconv.FormatUint(sampler, 10)+": sluice rate "+
						strconv.FormatUint(got, 10)+", tshark "+strconv.FormatUint(want, 10))
				}
				rates++
			}
		}
		totalOptions += options
		totalRates += rates
		if _, known := optionsDifferences[cp.Name]; known && len(diffs) > 0 {
			used[cp.Name] = true
		} else if len(diffs) > 0 {
			t.Errorf("%s: options differ: %v", cp.Name, diffs)
		}
		if options > 0 {
			t.Logf("%s: %d options records, %d sampling rates compared", cp.Name, options, rates)
		}
	}
	for name := range optionsDifferences {
		if !used[name] {
			t.Errorf("optionsDifferences entry %s matches no difference any more: remove it", name)
		}
	}
	t.Logf("%d captures, %d options records, %d sampling rates compared", c.Files, totalOptions, totalRates)
	if totalOptions < 100 || totalRates < 5 {
		t.Errorf("compared %d options records and %d sampling rates; the corpus has more", totalOptions, totalRates)
	}
}

func first(values []string) string {
	if len(values) == 0 {
		return ""
	}
	return values[0]
}
