package main

import (
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sluice/collector"
	"sluice/internal/pcap"
	"sluice/internal/testenv"
	"sluice/internal/tshark"
)

// restartCaptures hold templates (and options, with sampling rates) in
// datagrams of their own, before the data that uses them.
var restartCaptures = []string{
	"akvorado__nfv9-options-sampling.pcap", // v9 options: one sampler, 1 in 30000
	"akvorado__multiplesamplingrates.pcap", // v9 options: two samplers, IPv6 data
	"akvorado__nfv9-template-data.pcap",
	"akvorado__samplingrate-port8096.pcap",
	"akvorado__ipfix-eompls-cw.pcap",
	"akvorado__ipfix-datalink.pcap",
}

// restartWant is what tshark says the data datagrams of a capture hold.
type restartWant struct {
	flows, bytes, packets uint64
	rates                 map[uint64]uint64 // sampling rate → flows
	// Sums of columns added in schema version 5, from tshark's
	// cflow.ingress_vrfid and first cflow.mpls_label.
	ingressVRF, mplsLabel uint64
}

// expectedRestart reads a capture's reference decoding: which datagrams
// carry flow records (sent after the restart) and their totals. The rate of
// each flow is the one of its record, else of its sampler in the options
// data, else of the options record naming no sampler, else 1.
func expectedRestart(t *testing.T, path string) (dataFrames map[int]bool, w restartWant) {
	t.Helper()
	records, frames, err := tshark.Decode(testenv.Tshark(t), path)
	if err != nil {
		t.Fatal(err)
	}
	samplers := map[string]uint64{}
	for _, f := range frames {
		for _, o := range f.Options {
			if v := o["cflow.sampling_interval"]; len(v) > 0 {
				rate, _ := strconv.ParseUint(v[0], 10, 64)
				id := ""
				if s := o["cflow.sampler_id"]; len(s) > 0 {
					id = s[0]
				}
				samplers[id] = rate
			}
		}
	}
	dataFrames = map[int]bool{}
	w.rates = map[uint64]uint64{}
	for i := range records {
		r := &records[i]
		dataFrames[r.Frame] = true
		w.flows++
		b, _ := r.Uint("cflow.octets")
		p, _ := r.Uint("cflow.packets")
		w.bytes += b
		w.packets += p
		vrf, _ := r.Uint("cflow.ingress_vrfid")
		label, _ := r.Uint("cflow.mpls_label")
		w.ingressVRF += vrf
		w.mplsLabel += label
		rate, ok := r.Uint("cflow.sampling_interval")
		if !ok {
			id, _ := r.First("cflow.sampler_id")
			if rate, ok = samplers[id]; !ok {
				if rate, ok = samplers[""]; !ok {
					rate = 1
				}
			}
		}
		w.rates[rate]++
	}
	for _, f := range frames {
		if dataFrames[f.Number] && f.Templates > 0 {
			t.Fatalf("%s: frame %d holds both templates and data; the restart test needs them apart", path, f.Number)
		}
	}
	if w.flows == 0 {
		t.Fatalf("%s: tshark found no flows", path)
	}
	return dataFrames, w
}

// TestRunRestartKeepsTemplates sends each capture's templates and options
// (sampling rates), stops sluice with SIGTERM, starts it again on the same
// data directory and sends only the data datagrams: every record must be
// decoded and stored with its sampling rate, as tshark decodes the whole
// capture.
func TestRunRestartKeepsTemplates(t *testing.T) {
	requireChdb(t)
	dir := testenv.CorpusDir(t)
	data := t.TempDir()
	type capture struct {
		from netip.Addr
		want restartWant
		data [][]byte
	}
	var captures []capture
	in := startSluice(t, data)
	s := newSender(t)
	for i, name := range restartCaptures {
		path := filepath.Join(dir, name)
		dataFrames, want := expectedRestart(t, path)
		datagrams, _, err := pcap.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		c := capture{from: netip.AddrFrom4([4]byte{127, 0, 2, byte(i + 1)}), want: want}
		for _, d := range datagrams {
			if dataFrames[d.Frame] {
				c.data = append(c.data, d.Payload)
			} else {
				s.send(c.from, in.netflow, d.Payload)
			}
		}
		captures = append(captures, c)
	}
	// Wait until every template is in, then stop.
	var templates float64
	testenv.Poll(30*time.Second, func() bool {
		templates = in.metrics("sluice_collector_template_store_templates")["sluice_collector_template_store_templates"]
		return templates >= float64(len(restartCaptures))
	})
	if n := in.count(""); n != 0 {
		t.Fatalf("%d flows stored before any data was sent", n)
	}
	in.stop()
	state := filepath.Join(data, "collector", collector.StateFile)
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("no template state saved at stop: %v", err)
	}

	in = startSluice(t, data)
	restored := in.metrics("sluice_collector_template_state_restored")
	if got := restored[`sluice_collector_template_state_restored{what="templates"}`]; got != templates {
		t.Errorf("restored %v templates, %v were held before the restart (metrics: %v)", got, templates, restored)
	}
	var total uint64
	for _, c := range captures {
		for _, p := range c.data {
			s.send(c.from, in.netflow, p)
		}
		total += c.want.flows
	}
	testenv.Poll(60*time.Second, func() bool { return in.count("") >= total })
	for i, c := range captures {
		where := fmt.Sprintf("ExporterAddress = toIPv6('::ffff:%s')", c.from)
		got := in.sql("SELECT count(), sum(Bytes), sum(Packets), sum(IngressVRFID), sum(MPLS1stLabel) FROM flows WHERE "+where, "TSV")
		if want := fmt.Sprintf("%d\t%d\t%d\t%d\t%d\n", c.want.flows, c.want.bytes, c.want.packets, c.want.ingressVRF, c.want.mplsLabel); got != want {
			t.Errorf("%s: stored count, bytes, packets, VRF and MPLS label sums = %q, tshark says %q", restartCaptures[i], got, want)
		}
		var want []string
		for _, rate := range slices.Sorted(maps.Keys(c.want.rates)) {
			want = append(want, fmt.Sprintf("%d\t%d", rate, c.want.rates[rate]))
		}
		got = in.sql("SELECT SamplingRate, count() FROM flows WHERE "+where+" GROUP BY SamplingRate ORDER BY SamplingRate", "TSV")
		if strings.TrimSpace(got) != strings.Join(want, "\n") {
			t.Errorf("%s: flows by sampling rate:\n%s\ntshark says:\n%s", restartCaptures[i], got, strings.Join(want, "\n"))
		}
	}
	if m := in.metrics("sluice_collector_netflow_missing_template_sets_total"); m["sluice_collector_netflow_missing_template_sets_total"] != 0 {
		t.Errorf("data sets without their template after the restart: %v", m)
	}
	in.stop()
}
