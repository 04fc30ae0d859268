//go:build unix

package spool

import (
	"os"
	"syscall"
)

// dirInode is the directory's inode number: a copy of the directory (cp,
// rsync, a restore from a file-level backup) has another.
func dirInode(dir string) (uint64, bool) {
	fi, err := os.Stat(dir)
	if err != nil {
		return 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return uint64(st.Ino), true //nolint:unconvert // int32 on some platforms
}
