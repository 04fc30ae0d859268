package pipeline

import (
	"os"
	"path/filepath"
	"testing"
)

// The intent of a partition's last batch survives a restart, and a broken
// file is ignored rather than trusted.
func TestIntentLog(t *testing.T) {
	l := intentLog{dir: t.TempDir()}
	if _, ok := l.load("flows", 3); ok {
		t.Fatal("intent found in an empty directory")
	}
	if err := l.save("flows", 3, 100, 180); err != nil {
		t.Fatal(err)
	}
	if err := l.save("flows", 4, 7, 7); err != nil {
		t.Fatal(err)
	}
	if in, ok := l.load("flows", 3); !ok || in != (intent{100, 180}) {
		t.Fatalf("partition 3: %+v %v", in, ok)
	}
	if in, ok := l.load("flows", 4); !ok || in != (intent{7, 7}) {
		t.Fatalf("partition 4: %+v %v", in, ok)
	}
	if err := l.save("flows", 3, 181, 200); err != nil {
		t.Fatal(err)
	}
	if in, _ := l.load("flows", 3); in != (intent{181, 200}) {
		t.Fatalf("after overwrite: %+v", in)
	}
	for _, bad := range []string{"", "garbage", "10 5\n", "-1 4\n"} {
		os.WriteFile(filepath.Join(l.dir, "flows.9.intent"), []byte(bad), 0o600)
		if in, ok := l.load("flows", 9); ok {
			t.Errorf("%q accepted as %+v", bad, in)
		}
	}
}
