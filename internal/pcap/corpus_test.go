package pcap

import (
	"testing"

	"sluice/internal/testenv"
)

func corpusDir(tb testing.TB) string { return testenv.CorpusDir(tb) }
