package chhttp_test

import (
	"testing"

	"sluice/storage/embedded"
	"sluice/storage/embedded/embeddedtest"
)

// engine is the test process's one embedded engine (libchdb allows one
// session).
var engine *embedded.Engine

func TestMain(m *testing.M) { embeddedtest.Main(m, &engine, nil) }
