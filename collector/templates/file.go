package templates

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"sluice/internal/atomicfile"
)

// snapshotFile is the JSON document WriteFile writes.
type snapshotFile struct {
	Version int `json:"version"` // snapshotFileVersion
	Snapshot
}

// WriteFile writes a snapshot to path atomically: to a temporary file in the
// same directory, synced, then renamed over path, so that a crash leaves
// either the old file or the new one, never a torn one. The directory is
// created if needed.
func WriteFile(path string, snap Snapshot) error {
	data, err := json.Marshal(snapshotFile{Version: snapshotFileVersion, Snapshot: snap})
	if err != nil {
		return fmt.Errorf("encode template state: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("template state directory: %w", err)
	}
	if err := atomicfile.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write template state: %w", err)
	}
	return nil
}

// ReadFile reads a snapshot written by WriteFile. A missing file is an
// empty snapshot, not an error (the first start).
func ReadFile(path string) (Snapshot, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Snapshot{}, nil
	}
	if err != nil {
		return Snapshot{}, fmt.Errorf("read template state: %w", err)
	}
	var f snapshotFile
	if err := json.Unmarshal(data, &f); err != nil {
		return Snapshot{}, fmt.Errorf("decode template state %s: %w", path, err)
	}
	if f.Version != snapshotFileVersion {
		return Snapshot{}, fmt.Errorf("template state %s: format version %d, want %d", path, f.Version, snapshotFileVersion)
	}
	return f.Snapshot, nil
}
