package migrate

import "fmt"

// skipIndex is a data-skipping index on the flows table: it lets a query
// for one address, AS or port skip the granules that cannot hold it, which
// is what an analyst chasing one host or one service does.
type skipIndex struct {
	name, expr, kind string
	granularity      int
}

// skipIndexes are the flows table's skip indexes. Bloom filters suit
// columns with many distinct values looked up by equality or IN; minmax
// suits a time that follows the table's order loosely.
var skipIndexes = []skipIndex{
	{"SrcAddr", "SrcAddr", "bloom_filter(0.01)", 4},
	{"DstAddr", "DstAddr", "bloom_filter(0.01)", 4},
	{"SrcAS", "SrcAS", "bloom_filter(0.01)", 4},
	{"DstAS", "DstAS", "bloom_filter(0.01)", 4},
	{"SrcPort", "SrcPort", "bloom_filter(0.01)", 4},
	{"DstPort", "DstPort", "bloom_filter(0.01)", 4},
	// The detections select by flow time within a span of arrivals: the
	// granules' flow-time range skips those outside their windows.
	{"TimeFlowStart", "TimeFlowStart", "minmax", 1},
}

// addSkipIndexes returns the statements adding the skip indexes. New parts
// get them as they are written; existing parts are left as they are rather
// than rewritten (no MATERIALIZE INDEX) so a start never stalls on it.
func addSkipIndexes(cfg Config) []string {
	stmts := make([]string, len(skipIndexes))
	for i, ix := range skipIndexes {
		stmts[i] = addSkipIndex(cfg, ix)
	}
	return stmts
}

func addSkipIndex(cfg Config, ix skipIndex) string {
	return fmt.Sprintf("ALTER TABLE %s%s ADD INDEX IF NOT EXISTS idx_%s %s TYPE %s GRANULARITY %d",
		cfg.dataTable("flows"), cfg.onCluster(), ix.name, ix.expr, ix.kind, ix.granularity)
}
