package netflow

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"sluice/collector/decodeerr"
	"sluice/pipeline/record"
)

var testExporter = record.AddrFrom4([4]byte{192, 0, 2, 1})

func noEmit(*record.Flow) {}

// primed returns a decoder that has seen the templates of the given
// captures, and the captures' datagrams.
func primed(tb testing.TB, files ...string) (*Decoder, [][]byte) {
	tb.Helper()
	d := New(Config{})
	var payloads [][]byte
	for _, file := range files {
		for _, dg := range corpusDatagrams(tb, file) {
			d.Decode(testExporter, 1, dg.Payload, noEmit)
			payloads = append(payloads, dg.Payload)
		}
	}
	return d, payloads
}

// TestTruncatedPrefixes decodes every prefix of real datagrams: no panic,
// never more records than the whole datagram, and a prefix shorter than the
// datagram's header is reported as truncated.
func TestTruncatedPrefixes(t *testing.T) {
	files := []string{"akvorado__nfv5.pcap", "akvorado__nfv9-template-data.pcap", "akvorado__ipfixprobe.pcap", "akvorado__nfv9-options-sampling.pcap", "logstash__ipfix-netscaler-varlen.pcap"}
	d, payloads := primed(t, files...)
	for _, payload := range payloads {
		full, _ := d.Decode(testExporter, 1, payload, noEmit)
		headerLen := map[uint16]int{5: v5HeaderLen, 9: v9HeaderLen, 10: ipfixHeaderLen}[full.Version]
		for n := range len(payload) {
			st, err := d.Decode(testExporter, 1, payload[:n], noEmit)
			if st.Flows > full.Flows {
				t.Fatalf("v%d prefix %d/%d: %d flows, more than the whole datagram's %d", full.Version, n, len(payload), st.Flows, full.Flows)
			}
			if n < headerLen && decodeerr.Reason(err) != decodeerr.Truncated {
				t.Fatalf("v%d prefix %d: reason %q, want truncated", full.Version, n, decodeerr.Reason(err))
			}
			if full.Version == 5 && n < len(payload) && err == nil && st.Flows != 0 {
				// A v5 prefix either fits its count or is refused.
				t.Fatalf("v5 prefix %d: accepted %d flows", n, st.Flows)
			}
		}
	}
	if d.Panics() != 0 {
		t.Errorf("%d panics recovered", d.Panics())
	}
}

func TestUnknownVersion(t *testing.T) {
	d := New(Config{})
	for _, payload := range [][]byte{{0, 1, 0, 0}, {0, 7}, {0xff, 0xff, 1, 2, 3}, {0, 0, 0, 5, 0, 0, 0, 1}} {
		st, err := d.Decode(testExporter, 1, payload, noEmit)
		if decodeerr.Reason(err) != decodeerr.UnknownVersion || st.Flows != 0 {
			t.Errorf("% x: reason %q, flows %d", payload, decodeerr.Reason(err), st.Flows)
		}
		var de *decodeerr.Error
		if !errors.As(err, &de) || de.Reason != decodeerr.UnknownVersion {
			t.Errorf("errors.As failed for %v", err)
		}
	}
	for _, payload := range [][]byte{nil, {0}} {
		if _, err := d.Decode(testExporter, 1, payload, noEmit); decodeerr.Reason(err) != decodeerr.Truncated {
			t.Errorf("% x: reason %q, want truncated", payload, decodeerr.Reason(err))
		}
	}
}

// TestGarbage feeds random bytes, with and without a valid version field,
// to a decoder that knows real templates.
func TestGarbage(t *testing.T) {
	d, _ := primed(t, "akvorado__nfv9-template-data.pcap", "akvorado__ipfixprobe.pcap")
	rng := rand.New(rand.NewPCG(1, 2))
	known := map[string]bool{"": true, decodeerr.Truncated: true, decodeerr.UnknownVersion: true, decodeerr.TemplateNotFound: true, decodeerr.Malformed: true}
	for i := range 20000 {
		payload := make([]byte, rng.IntN(1500))
		for j := range payload {
			payload[j] = byte(rng.UintN(256))
		}
		if len(payload) >= 2 {
			binary.BigEndian.PutUint16(payload, []uint16{5, 9, 10, uint16(rng.UintN(65536))}[i%4])
		}
		_, err := d.Decode(testExporter, 1, payload, noEmit)
		if !known[decodeerr.Reason(err)] {
			t.Fatalf("unexpected reason %q (%v)", decodeerr.Reason(err), err)
		}
	}
	if d.Panics() != 0 {
		t.Errorf("%d panics recovered", d.Panics())
	}
}

// TestDataBeforeTemplate: a data datagram decoded before its template
// reports template_not_found; once the template has arrived it decodes.
func TestDataBeforeTemplate(t *testing.T) {
	datagrams := corpusDatagrams(t, "akvorado__nfv9-template-data.pcap")
	template, data := datagrams[0].Payload, datagrams[1].Payload
	d := New(Config{})
	st, err := d.Decode(testExporter, 1, data, noEmit)
	if decodeerr.Reason(err) != decodeerr.TemplateNotFound || st.Flows != 0 || st.MissingTemplateSets != 1 {
		t.Fatalf("before template: reason %q flows %d missing %d", decodeerr.Reason(err), st.Flows, st.MissingTemplateSets)
	}
	if st, err := d.Decode(testExporter, 1, template, noEmit); err != nil || st.Templates != 1 {
		t.Fatalf("template: %v, %d templates", err, st.Templates)
	}
	// Another exporter does not share the template.
	other := record.AddrFrom4([4]byte{192, 0, 2, 2})
	if _, err := d.Decode(other, 1, data, noEmit); decodeerr.Reason(err) != decodeerr.TemplateNotFound {
		t.Errorf("other exporter: reason %q", decodeerr.Reason(err))
	}
	if st, err := d.Decode(testExporter, 1, data, noEmit); err != nil || st.Flows != 4 {
		t.Fatalf("after template: %v, %d flows", err, st.Flows)
	}
}

// ipfixMessage builds an IPFIX message from sets.
func ipfixMessage(sets ...[]byte) []byte {
	msg := []byte{0, 10, 0, 0, 0x60, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}
	for _, s := range sets {
		msg = append(msg, s...)
	}
	binary.BigEndian.PutUint16(msg[2:], uint16(len(msg)))
	return msg
}

func set(id uint16, body ...byte) []byte {
	s := binary.BigEndian.AppendUint16(nil, id)
	s = binary.BigEndian.AppendUint16(s, uint16(4+len(body)))
	return append(s, body...)
}

// TestZeroLengthTemplate: a template whose records take no bytes would make
// goflow2 loop forever on a data set; the store refuses it.
func TestZeroLengthTemplate(t *testing.T) {
	d := New(Config{})
	// Template 256: one field, IE 8, length 0.
	msg := ipfixMessage(set(2, 1, 0, 0, 1, 0, 8, 0, 0), set(256, 1, 2, 3, 4))
	done := make(chan error, 1)
	go func() {
		_, err := d.Decode(testExporter, 1, msg, noEmit)
		done <- err
	}()
	select {
	case err := <-done:
		if decodeerr.Reason(err) != decodeerr.TemplateNotFound {
			t.Errorf("reason %q, want template_not_found", decodeerr.Reason(err))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("decoding hung")
	}
	if st := d.Templates().Stats(); st.TemplatesInvalid != 1 {
		t.Errorf("invalid templates = %d", st.TemplatesInvalid)
	}
}

// TestTemplateBound: at the per-exporter bound, a template whose data
// decodes is kept: a new template is refused and counted, and its data sets
// count as missing templates. A template that never decoded data makes
// room instead.
func TestTemplateBound(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Templates.MaxTemplatesPerExporter = 1
	d := New(cfg)
	// Templates 256 and 257: IE 8 (sourceIPv4Address), 4 bytes.
	template256, template257 := set(2, 1, 0, 0, 1, 0, 8, 0, 4), set(2, 1, 1, 0, 1, 0, 8, 0, 4)
	data256, data257 := set(256, 192, 0, 2, 10), set(257, 192, 0, 2, 11)
	var srcs []record.Addr
	collect := func(f *record.Flow) { srcs = append(srcs, f.SrcAddr) }
	if st, err := d.Decode(testExporter, 1, ipfixMessage(template256, data256), collect); err != nil || st.Flows != 1 {
		t.Fatalf("template 256 and its data: %v, %d flows", err, st.Flows)
	}
	st, err := d.Decode(testExporter, 2, ipfixMessage(template257, data256, data257), collect)
	if decodeerr.Reason(err) != decodeerr.TemplateNotFound || st.Flows != 1 || st.MissingTemplateSets != 1 {
		t.Errorf("reason %q flows %d missing %d", decodeerr.Reason(err), st.Flows, st.MissingTemplateSets)
	}
	if want := record.AddrFrom4([4]byte{192, 0, 2, 10}); len(srcs) != 2 || srcs[0] != want || srcs[1] != want {
		t.Errorf("sources %v", srcs)
	}
	if ts := d.Templates().Stats(); ts.TemplatesRefusedPerExporter != 1 || ts.TemplatesEvictedNeverUsed != 0 {
		t.Errorf("refused %d, evicted %d; want 1 and 0", ts.TemplatesRefusedPerExporter, ts.TemplatesEvictedNeverUsed)
	}

	// Another exporter's template 256 never decodes data: 257 replaces it.
	other := record.AddrFrom4([4]byte{192, 0, 2, 99})
	srcs = nil
	d.Decode(other, 3, ipfixMessage(template256), collect)
	if st, err := d.Decode(other, 4, ipfixMessage(template257, data257), collect); err != nil || len(srcs) != 1 || srcs[0] != record.AddrFrom4([4]byte{192, 0, 2, 11}) {
		t.Errorf("template 257 after an unused 256: %v, %d flows, sources %v", err, st.Flows, srcs)
	}
	if ts := d.Templates().Stats(); ts.TemplatesEvictedNeverUsed != 1 {
		t.Errorf("evicted %d, want 1", ts.TemplatesEvictedNeverUsed)
	}
}

// TestZeroPadding: zero bytes after the last set are padding, not an error.
func TestZeroPadding(t *testing.T) {
	datagrams := corpusDatagrams(t, "akvorado__nfv9-template-data.pcap")
	d := New(Config{})
	d.Decode(testExporter, 1, datagrams[0].Payload, noEmit)
	padded := append(append([]byte(nil), datagrams[1].Payload...), make([]byte, 100)...)
	if st, err := d.Decode(testExporter, 1, padded, noEmit); err != nil || st.Flows != 4 {
		t.Errorf("padded: %v, %d flows", err, st.Flows)
	}
	padded[len(padded)-1] = 1
	if st, err := d.Decode(testExporter, 1, padded, noEmit); decodeerr.Reason(err) != decodeerr.Malformed || st.Flows != 4 {
		t.Errorf("non-zero tail: reason %q, %d flows", decodeerr.Reason(err), st.Flows)
	}
}

// TestConcurrentDecode runs several workers on one decoder, one exporter
// each, as the collector does (run with -race). The receive time is the
// same for all: the captures' own times are years apart, and the store
// would rightly expire the exporters of the older ones.
func TestConcurrentDecode(t *testing.T) {
	files := []string{"akvorado__nfv9-options-sampling.pcap", "akvorado__ipfixprobe.pcap", "akvorado__nfv5.pcap", "akvorado__multiplesamplingrates.pcap"}
	want := map[string]int{}
	for _, f := range files {
		want[f] = len(decodeFile(t, New(Config{}), f).flows)
	}
	d := New(Config{})
	var wg sync.WaitGroup
	for w, file := range files {
		datagrams := corpusDatagrams(t, file)
		wg.Add(1)
		go func() {
			defer wg.Done()
			exporter := record.AddrFrom4([4]byte{192, 0, 2, byte(w)})
			for range 20 {
				flows := 0
				for _, dg := range datagrams {
					st, _ := d.Decode(exporter, 1, dg.Payload, func(*record.Flow) {})
					flows += st.Flows
				}
				if flows != want[file] {
					t.Errorf("%s: %d flows, want %d", file, flows, want[file])
					return
				}
			}
		}()
	}
	wg.Wait()
}
