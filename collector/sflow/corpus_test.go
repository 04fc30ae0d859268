package sflow

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
	stats   Stats // summed over datagrams
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
		res.stats.Flows += st.Flows
		res.stats.FlowSamples += st.FlowSamples
		res.stats.CounterSamples += st.CounterSamples
		res.stats.DropSamples += st.DropSamples
		res.stats.SamplingDefaulted += st.SamplingDefaulted
		res.stats.HeadersUnknownProtocol += st.HeadersUnknownProtocol
		res.stats.HeadersNonIP += st.HeadersNonIP
		res.stats.HeadersTruncated += st.HeadersTruncated
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
