package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sluice/internal/pcap"
	"sluice/internal/testenv"
	"sluice/internal/tshark"
)

// counterCaptures are the corpus sFlow captures with generic interface or
// Ethernet counter samples.
var counterCaptures = []string{
	"lssflow__counters-1.pcap",
	"lssflow__lag-counters.pcap",
	"telegraf__sflow-issue15918.pcap",
	"telegraf__sflow-issue18876.pcap",
}

// counterTotals is what tshark says the captures' counter samples hold:
// samples, and the sums of two counters.
type counterTotals struct{ samples, inOctets, outErrors, fcsErrors uint64 }

func tsharkCounterTotals(t *testing.T, paths []string) counterTotals {
	t.Helper()
	bin := testenv.Tshark(t)
	var tot counterTotals
	sum := func(c map[string][]string, field string) uint64 {
		if v := c[field]; len(v) > 0 {
			n, err := strconv.ParseUint(v[0], 0, 64)
			if err != nil {
				t.Fatalf("tshark %s = %q", field, v[0])
			}
			return n
		}
		return 0
	}
	for _, p := range paths {
		_, frames, err := tshark.Decode(bin, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range frames {
			for _, c := range f.Counters {
				formats := c["sflow_245.counters_record_format"]
				if !slices.Contains(formats, "1") && !slices.Contains(formats, "2") {
					continue
				}
				tot.samples++
				tot.inOctets += sum(c, "sflow_245.ifinoct")
				tot.outErrors += sum(c, "sflow_245.ifouterr")
				tot.fcsErrors += sum(c, "sflow_245.dot3StatsFCSErrors")
			}
		}
	}
	return tot
}

// sendCounterCaptures replays the counter captures to an sFlow address and
// returns their paths.
func sendCounterCaptures(t *testing.T, to string) []string {
	t.Helper()
	s := newSender(t)
	var paths []string
	for i, name := range counterCaptures {
		path := filepath.Join(testenv.CorpusDir(t), name)
		paths = append(paths, path)
		datagrams, _, err := pcap.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range datagrams {
			s.send(netip.AddrFrom4([4]byte{127, 0, 2, byte(i + 1)}), to, d.Payload)
		}
	}
	return paths
}

const counterTotalsQuery = "SELECT count(), sum(IfInOctets), sum(IfOutErrors), sum(Dot3StatsFCSErrors) FROM interface_counters"

func (c counterTotals) tsv() string {
	return fmt.Sprintf("%d\t%d\t%d\t%d\n", c.samples, c.inOctets, c.outErrors, c.fcsErrors)
}

// `sluice run` stores the sFlow counter samples of the corpus in
// interface_counters: the count and totals equal tshark's decoding, and
// they survive a restart.
func TestRunStoresCounters(t *testing.T) {
	requireChdb(t)
	data := t.TempDir()
	in := startSluice(t, data)
	want := tsharkCounterTotals(t, sendCounterCaptures(t, in.sflow))
	if want.samples == 0 {
		t.Fatal("tshark found no counter samples")
	}
	waitRows(t, in, counterTotalsQuery, strings.TrimRight(want.tsv(), "\n")) // what tshark says
	if m := in.metrics("sluice_pipeline_counters_written_total"); m["sluice_pipeline_counters_written_total"] != float64(want.samples) {
		t.Errorf("counters_written_total = %v, want %d", m, want.samples)
	}
	// README's rate query runs: one row per sample with generic counters.
	rate := in.sql(`SELECT TimeReceived, IfIndex,
       (IfInOctets - lagInFrame(IfInOctets) OVER w) * 8
         / (toUnixTimestamp(TimeReceived) - lagInFrame(toUnixTimestamp(TimeReceived)) OVER w) AS InBitsPerSecond
FROM interface_counters WHERE HasGeneric
WINDOW w AS (PARTITION BY ExporterAddress, IfIndex ORDER BY TimeReceived ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
ORDER BY TimeReceived`, "TSV")
	generic := strings.TrimSpace(in.sql("SELECT count() FROM interface_counters WHERE HasGeneric", "TSV"))
	if n := strings.Count(rate, "\n"); strconv.Itoa(n) != generic || n == 0 {
		t.Errorf("rate query: %d rows, want %s:\n%s", n, generic, rate)
	}
	in.stop()
	in = startSluice(t, data)
	if got := in.sql(counterTotalsQuery, "TSV"); got != want.tsv() {
		t.Errorf("after a restart: %q, want %q", got, want.tsv())
	}
	if got := in.sql("SELECT count() FROM interface_counters WHERE ExporterAddress = toIPv6('::') OR IfIndex = 0", "TSV"); strings.TrimSpace(got) != "0" {
		t.Errorf("%s rows without exporter or interface", got)
	}
	in.stop()
}

// SIGTERM right after the samples arrive stores them: with an hour's flush
// interval they are all still held by the counter path when the signal
// comes, and shutdown must store them before it gives up on storage.
func TestRunStoresCountersOnSIGTERM(t *testing.T) {
	requireChdb(t)
	data := t.TempDir()
	config := filepath.Join(t.TempDir(), "sluice.yaml")
	if err := os.WriteFile(config, []byte("pipeline:\n  flush-interval: 1h\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	in := startSluice(t, data, "--config", config)
	want := tsharkCounterTotals(t, sendCounterCaptures(t, in.sflow))
	if want.samples == 0 {
		t.Fatal("tshark found no counter samples")
	}
	const received = "sluice_pipeline_counters_received_total"
	testenv.Eventually(t, 30*time.Second, "the counter path to take every sample", func() bool {
		return in.metrics(received)[received] == float64(want.samples)
	})
	if got := strings.TrimSpace(in.sql("SELECT count() FROM interface_counters", "TSV")); got != "0" {
		t.Fatalf("%s samples stored before the flush interval; the test needs them held", got)
	}
	in.stop()
	in = startSluice(t, data)
	if got := in.sql(counterTotalsQuery, "TSV"); got != want.tsv() {
		t.Errorf("after SIGTERM and a restart: %q, want %q", got, want.tsv())
	}
	in.stop()
}

// The split deployment carries counter samples through Kafka:
// collect → <topic>-counters → pipeline → interface_counters, exactly once
// in the store; a pipeline killed (SIGKILL) and restarted stores nothing
// twice, and samples sent while it is down arrive once it is back.
func TestKafkaStoresCounters(t *testing.T) {
	requireChdb(t)
	config := kafkaTestConfig(t, sharedBrokers(t), "")
	pipeData := t.TempDir()
	pipe := startTier(t, "pipeline", "--config", config, "--data", pipeData)
	args, _, sf := collectArgs(t, config, t.TempDir())
	coll := startTier(t, args...)
	want := tsharkCounterTotals(t, sendCounterCaptures(t, sf))
	if want.samples == 0 {
		t.Fatal("tshark found no counter samples")
	}
	stored := func(p *tier) string { return p.sql(counterTotalsQuery) }
	testenv.Eventually(t, 60*time.Second, "counter samples stored", func() bool { return stored(pipe) == want.tsv() })

	pipe.kill()
	twice := counterTotals{2 * want.samples, 2 * want.inOctets, 2 * want.outErrors, 2 * want.fcsErrors}
	sendCounterCaptures(t, sf)
	testenv.Eventually(t, 30*time.Second, "the collector to send the second samples", func() bool {
		return coll.metric("sluice_pipeline_counters_written_total") == float64(twice.samples)
	})
	pipe = startTier(t, "pipeline", "--config", config, "--data", pipeData)
	testenv.Eventually(t, 60*time.Second, "counter samples stored after the restart", func() bool { return stored(pipe) == twice.tsv() })
	// Once every counter message is committed, nothing is left to store
	// twice: the totals read then are final.
	var got string
	settled(t, countersGroup(t, config), []*tier{pipe}, counterWrites, func() { got = stored(pipe) })
	if got != twice.tsv() {
		t.Errorf("interface_counters %q, want %q", got, twice.tsv())
	}
	coll.term()
	pipe.term()
}
