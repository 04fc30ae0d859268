// Package atomicfile replaces small files atomically and durably: a crash
// leaves either the old content or the new, never a torn file, and once
// WriteFile returns the new content survives a power loss.
package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

// WriteFile writes data to path+".tmp", syncs it, renames it over path and
// syncs the directory, so that the rename itself is durable. Writers of the
// same path must not run concurrently (they share the temporary file).
func WriteFile(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir makes the creations, renames and removals of entries in dir
// durable. File systems that cannot sync a directory (EINVAL) are not an
// error.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	d.Close()
	if errors.Is(err, syscall.EINVAL) {
		return nil
	}
	return err
}
