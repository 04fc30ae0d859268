package reporter

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetricsPrefixAndLabels(t *testing.T) {
	r := New(slog.New(slog.DiscardHandler))
	m := r.Sub("pipeline/queue").Metrics()
	c := m.Counter("batches_total", "Batches.")
	v := m.CounterVec("dropped_total", "Dropped.", "reason")
	m.GaugeFunc("depth", "Depth.", func() float64 { return 3 })
	h := m.Histogram("duration_seconds", "Duration.", []float64{1})
	m.With(prometheus.Labels{"listen": ":2055"}).CounterFunc("socket_drops_total", "Drops.", func() float64 { return 7 })
	if err := m.Err(); err != nil {
		t.Fatal(err)
	}
	c.Add(2)
	v.WithLabelValues("full").Inc()
	h.Observe(0.5)
	want := `
# HELP sluice_pipeline_queue_batches_total Batches.
# TYPE sluice_pipeline_queue_batches_total counter
sluice_pipeline_queue_batches_total 2
# HELP sluice_pipeline_queue_depth Depth.
# TYPE sluice_pipeline_queue_depth gauge
sluice_pipeline_queue_depth 3
# HELP sluice_pipeline_queue_dropped_total Dropped.
# TYPE sluice_pipeline_queue_dropped_total counter
sluice_pipeline_queue_dropped_total{reason="full"} 1
# HELP sluice_pipeline_queue_socket_drops_total Drops.
# TYPE sluice_pipeline_queue_socket_drops_total counter
sluice_pipeline_queue_socket_drops_total{listen=":2055"} 7
`
	if err := testutil.GatherAndCompare(r.Gatherer(), strings.NewReader(want),
		"sluice_pipeline_queue_batches_total", "sluice_pipeline_queue_depth",
		"sluice_pipeline_queue_dropped_total", "sluice_pipeline_queue_socket_drops_total"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(r.Gatherer(), "sluice_pipeline_queue_duration_seconds"); err != nil || n != 1 {
		t.Errorf("histogram: %d series, %v", n, err)
	}
}

// A second registration of a name is an error from Err, not a panic, and
// it names the metric; the first error is kept.
func TestMetricsDuplicate(t *testing.T) {
	r := New(slog.New(slog.DiscardHandler)).Sub("collector")
	first := r.Metrics()
	first.Counter("x_total", "X.")
	if err := first.Err(); err != nil {
		t.Fatal(err)
	}
	m := r.Metrics()
	m.Gauge("fine", "Fine.")
	m.Counter("x_total", "X.").Inc() // still usable, unregistered
	m.Gauge("y", "Y.")
	err := m.Err()
	var already prometheus.AlreadyRegisteredError
	if !errors.As(err, &already) || !strings.Contains(err.Error(), "x_total") {
		t.Fatalf("Err() = %v, want an AlreadyRegisteredError naming x_total", err)
	}
	// Nothing is registered after the first error: y is still free.
	again := r.Metrics()
	again.Gauge("y", "Y.")
	if err := again.Err(); err != nil {
		t.Errorf("y was registered after the error: %v", err)
	}
}

func TestPackageDerivesThePrefixFromTheCaller(t *testing.T) {
	r := New(slog.New(slog.DiscardHandler))
	// Called from any sub-reporter, the result is rooted at the module.
	p := r.Sub("somewhere/else").Package()
	if got, want := p.Module(), "internal/reporter"; got != want {
		t.Fatalf("Module() = %q, want %q", got, want)
	}
	p.Metrics().Counter("things_total", "Things.")
	names, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range names {
		found = found || mf.GetName() == "sluice_internal_reporter_things_total"
	}
	if !found {
		t.Fatal("sluice_internal_reporter_things_total not registered")
	}
	for fn, want := range map[string]string{
		"sluice/pipeline/kafka.(*Group).Run":           "sluice/pipeline/kafka",
		"sluice/collector.New.func1":                   "sluice/collector",
		"sluice/storage/clickhouse.NewTableBuilder[…]": "sluice/storage/clickhouse",
		"main.main": "main",
	} {
		if got := packageOf(fn); got != want {
			t.Errorf("packageOf(%q) = %q, want %q", fn, got, want)
		}
	}
}
