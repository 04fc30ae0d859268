package migrate

// version11 is schema version 11's statements: the exporters table's two
// views go, since the writer fills the table from each batch in Go
// (storage/writer, clickhouse.ExportersBuilder). Their GROUP BY over every
// column of both interface sides cost an insert about 1.4 CPU-seconds per
// million rows of 13.8 (BenchmarkInsertViews, BENCHMARKS.md); the writer's
// pass costs about a tenth of that.
func version11(cfg Config) []string {
	var stmts []string
	for _, side := range interfaceSides {
		stmts = append(stmts, "DROP VIEW IF EXISTS "+exportersViewName(side)+cfg.onCluster())
	}
	return stmts
}
