package chdbpurego

import (
	"strings"
	"testing"
)

// A missing libchdb is an error of the first connection, not a panic at
// program start: the package's change from upstream.
func TestLoadMissingLibrary(t *testing.T) {
	t.Setenv("CHDB_LIB_PATH", t.TempDir()+"/no-libchdb.so")
	_, err := NewConnectionFromConnString(":memory:")
	if err == nil || !strings.Contains(err.Error(), "load libchdb") {
		t.Fatalf("err = %v, want one saying libchdb could not be loaded", err)
	}
}
