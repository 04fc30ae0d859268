package migrate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The users script is pinned by a golden file (the embedded engine has no
// access control to run it; storage/embedded's tests parse every statement
// with the engine's own parser).
func TestUsersScriptGolden(t *testing.T) {
	u := DefaultUsers()
	u.WriterPassword, u.AnalystPassword = "writer-secret", "analyst-secret"
	got, err := UsersScript(u)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got, "secret") {
		t.Fatal("a password appears in clear in the script")
	}
	path := filepath.Join("testdata", "users.sql")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if got != string(want) {
		t.Errorf("users script differs from %s:\n%s", path, got)
	}
	if _, err := UsersScript(DefaultUsers()); err == nil {
		t.Error("a script without passwords was produced")
	}
}
