package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrintUsers(t *testing.T) {
	var out strings.Builder
	stdoutOf = func(io.Writer) io.Writer { return &out }
	defer func() { stdoutOf = func(io.Writer) io.Writer { return os.Stdout } }()

	t.Setenv("SLUICE_WRITER_PASSWORD", "")
	t.Setenv("SLUICE_ANALYST_PASSWORD", "")
	err := dispatch(t.Context(), []string{"migrate", "--print-users"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "SLUICE_WRITER_PASSWORD") {
		t.Fatalf("without passwords: err = %v, want one naming the variable", err)
	}
	t.Setenv("SLUICE_WRITER_PASSWORD", "w-secret")
	file := filepath.Join(t.TempDir(), "analyst")
	os.WriteFile(file, []byte("a-secret\n"), 0o600)
	t.Setenv("SLUICE_ANALYST_PASSWORD_FILE", file)
	if err := dispatch(t.Context(), []string{"migrate", "--print-users"}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "CREATE USER IF NOT EXISTS sluice_analyst") || strings.Contains(out.String(), "secret") {
		t.Fatalf("script:\n%s", out.String())
	}
}
