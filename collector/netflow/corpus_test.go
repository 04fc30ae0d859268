package netflow

import (
	"errors"
	"path/filepath"
	"testing"

	"sluice/internal/testenv"

	"sluice/collector/decodeerr"
	"sluice/internal/pcap"
	"sluice/pipeline/record"
)

func corpusDir(tb testing.TB) string { return testenv.CorpusDir(tb) }

// corpusDatagrams reads the UDP datagrams of one corpus capture.
func corpusDatagrams(tb testing.TB, name string) []pcap.Datagram {
	tb.Helper()
	datagrams, _, err := pcap.ReadFile(filepath.Join(corpusDir(tb), name))
	if err != nil {
		tb.Fatal(err)
	}
	return datagrams
}

// fileResult is everything decoding one capture produced.
type fileResult struct {
	flows   []record.Flow
	stats   Stats // summed over datagrams (Version is the last one's)
	reasons []string
}

// decodeFile decodes every datagram of a capture with d, exporter being each
// datagram's source address.
func decodeFile(tb testing.TB, d *Decoder, name string) fileResult {
	tb.Helper()
	var res fileResult
	for _, dg := range corpusDatagrams(tb, name) {
		st, err := d.Decode(record.AddrFromSlice(dg.Src.AsSlice()), dg.Timestamp, dg.Payload, func(f *record.Flow) {
			res.flows = append(res.flows, *f)
		})
		res.stats.Version = st.Version
		res.stats.Flows += st.Flows
		res.stats.Templates += st.Templates
		res.stats.OptionsRecords += st.OptionsRecords
		res.stats.MissingTemplateSets += st.MissingTemplateSets
		res.stats.SamplingDefaulted += st.SamplingDefaulted
		res.stats.HeaderCountMismatch += st.HeaderCountMismatch
		if err != nil {
			var de *decodeerr.Error
			if !errors.As(err, &de) {
				tb.Errorf("error %v is not a *decodeerr.Error", err)
			}
			res.reasons = append(res.reasons, decodeerr.Reason(err))
		}
	}
	return res
}
