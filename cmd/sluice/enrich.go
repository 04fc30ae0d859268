package main

import (
	"context"
	"path/filepath"

	"sluice/internal/reporter"
	"sluice/pipeline/enrich"
)

// startEnricher builds the enrichment stage of `run` and `pipeline` and
// starts its background work (SNMP polling, file reloads). stop ends that
// work, once the pipeline no longer uses the enricher, and waits for it
// (the SNMP cache is saved on the way out).
func startEnricher(cfg Config, r *reporter.Reporter) (e *enrich.Enricher, stop func(), err error) {
	e, err = enrich.New(r.Sub("pipeline/enrich"), cfg.Enrich, filepath.Join(cfg.Data, "enrich"))
	if err != nil {
		return nil, nil, err // names the component: "enrich: …"
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := e.Run(ctx); err != nil {
			r.Error("enrichment sources stopped", "error", err)
		}
	}()
	return e, func() { cancel(); <-done }, nil
}
