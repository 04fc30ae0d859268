package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"sluice/internal/demo"
)

// TestQueryCommand runs library queries with `sluice query` against a
// running sluice fed by the demo exporter: answers read from the rollups
// equal the same aggregation over the raw table.
func TestQueryCommand(t *testing.T) {
	requireChdb(t)
	in := startSluice(t, t.TempDir())
	cfg := demo.DefaultConfig()
	cfg.BindSources = true
	gen, err := demo.NewGenerator(cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s := newSender(t)
	emit := func(d *demo.Datagram) error {
		target := in.netflow
		if d.Protocol == demo.SFlow5 {
			target = in.sflow
		}
		s.send(d.Source, target, d.Payload)
		return nil
	}
	if err := gen.Generate(time.Now(), 3000, emit); err != nil {
		t.Fatal(err)
	}
	if err := gen.Flush(time.Now(), emit); err != nil {
		t.Fatal(err)
	}
	in.stop() // stores everything
	in = startSluice(t, in.data)
	if got := in.count(""); got != 3000 {
		t.Fatalf("stored %d flows, sent 3000", got)
	}

	query := func(args ...string) (string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		args = append(args, "--addr", "http://"+in.http, "--format", "tsv")
		if err := dispatch(context.Background(), append([]string{"query"}, args...), &out, &errOut); err != nil {
			t.Fatalf("sluice query %v: %v\n%s", args, err, errOut.String())
		}
		return out.String(), errOut.String()
	}
	got, used := query("top-protocols", "--since", "1h", "--param", "limit=100")
	if !strings.Contains(used, "sluice.flows_as_1m") {
		t.Errorf("top-protocols over the last hour should read the 1-minute AS rollup: %s", used)
	}
	want := in.sql("SELECT EType, Proto, sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, count() AS Flows FROM flows GROUP BY EType, Proto ORDER BY Bytes DESC, EType, Proto", "TSVWithNames")
	if got != want {
		t.Errorf("top-protocols from the rollup:\n%s\nraw aggregate:\n%s", got, want)
	}
	got, used = query("top-sources", "--since", "1h", "--param", "limit=3")
	if !strings.Contains(used, "from sluice.flows,") || strings.Count(got, "\n") != 4 {
		t.Errorf("top-sources (raw table, 3 rows and a header): %s\n%s", used, got)
	}
	// A limit keeps the series of the exporters with the most bytes.
	exporters := func(tsv string) map[string]bool {
		seen := map[string]bool{}
		for _, line := range strings.Split(strings.TrimSpace(tsv), "\n")[1:] { // after the header
			seen[strings.Split(line, "\t")[1]] = true
		}
		return seen
	}
	all, _ := query("traffic-by-exporter", "--since", "1h")
	top, _ := query("traffic-by-exporter", "--since", "1h", "--param", "limit=2")
	if n, m := len(exporters(all)), len(exporters(top)); n <= 2 || m != 2 {
		t.Errorf("traffic-by-exporter: %d exporters without a limit, %d with limit=2", n, m)
	}
	list, _ := query("list")
	for _, name := range []string{"top-sources", "top-pairs", "traffic-by-exporter", "new-destinations"} {
		if !strings.Contains(list, name) {
			t.Errorf("sluice query list lacks %s:\n%s", name, list)
		}
	}
	var errOut bytes.Buffer
	if err := dispatch(context.Background(), []string{"query", "top-sources", "--param", "limit=x"}, &errOut, &errOut); err == nil ||
		!strings.Contains(err.Error(), "limit") {
		t.Errorf("a bad parameter: err = %v, want one naming limit", err)
	}
	in.stop()
}
