package filestamp

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestStampSeesReplacementAndRewrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	data, first, err := Read(path)
	if err != nil || string(data) != "one" {
		t.Fatalf("%q %v", data, err)
	}
	if again, _ := Of(path); again != first {
		t.Fatal("an untouched file must keep its stamp")
	}
	// Replaced by rename, same size and modification time: the inode tells.
	tmp := path + ".new"
	os.WriteFile(tmp, []byte("two"), 0o600)
	mtime := time.Unix(1_700_000_000, 0)
	os.Chtimes(tmp, mtime, mtime)
	os.Chtimes(path, mtime, mtime)
	first, _ = Of(path)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	replaced, _ := Of(path)
	if replaced == first {
		t.Error("a file renamed over the old one must get another stamp")
	}
	// Rewritten in place with another length.
	os.WriteFile(path, []byte("three"), 0o600)
	if rewritten, _ := Of(path); rewritten == replaced {
		t.Error("a file rewritten in place must get another stamp")
	}
	if _, err := Of(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing file must be an error")
	}
}
