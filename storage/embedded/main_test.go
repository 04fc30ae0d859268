package embedded_test

import (
	"testing"

	"sluice/storage/embedded"
	"sluice/storage/embedded/embeddedtest"
)

// engine is the one embedded engine of the test process (libchdb allows one
// session); TestReopen closes and replaces it.
var (
	engine  *embedded.Engine
	dataDir string
)

func TestMain(m *testing.M) { embeddedtest.Main(m, &engine, &dataDir) }
