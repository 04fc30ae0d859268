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
	e, err = enrich.New(r, cfg.Enrich, enrich.Dependencies{StateDir: filepath.Join(cfg.Data, "enrich")})
	if err != nil {
		return nil, nil, err // names the component: "enrich: …"
	}
	if err := e.Start(context.Background()); err != nil {
		return nil, nil, err
	}
	return e, func() {
		if err := e.Stop(context.Background()); err != nil {
			r.Error("enrichment sources stopped", "error", err)
		}
	}, nil
}
