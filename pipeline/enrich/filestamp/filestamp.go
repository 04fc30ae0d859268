// Package filestamp tells whether a file an enrichment source loaded was
// replaced (renamed over) or rewritten in place since, and reads a file
// whole only when it did not change while being read. The networks file,
// the GeoIP databases and the threat-feed files are all watched this way.
package filestamp

import (
	"errors"
	"os"
	"syscall"
)

// Stamp identifies a file's version: a replaced file has another inode, a
// rewritten one another size or modification time. The zero Stamp is no
// file.
type Stamp struct {
	inode, size uint64
	modified    int64
}

// Of returns the stamp of the file at path.
func Of(path string) (Stamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Stamp{}, err
	}
	stamp := Stamp{size: uint64(fi.Size()), modified: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		stamp.inode = st.Ino
	}
	return stamp, nil
}

// ErrChanging is returned by Read for a file that changed while it was
// read: a writer is still at work, and the next check reads it whole.
var ErrChanging = errors.New("file changed while it was read")

// Read reads the file at path and returns it with its stamp, or
// ErrChanging when the stamp moved during the read.
func Read(path string) ([]byte, Stamp, error) {
	before, err := Of(path)
	if err != nil {
		return nil, Stamp{}, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Stamp{}, err
	}
	after, err := Of(path)
	if err != nil {
		return nil, Stamp{}, err
	}
	if before != after {
		return nil, Stamp{}, ErrChanging
	}
	return data, after, nil
}
