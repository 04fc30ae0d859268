package main

import (
	"os"
	"testing"
)

// TestMain removes the binary the tests built (tens of MB a run).
func TestMain(m *testing.M) {
	code := m.Run()
	if builtDir != "" {
		os.RemoveAll(builtDir)
	}
	os.Exit(code)
}
