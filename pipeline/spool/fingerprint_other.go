//go:build !unix

package spool

func dirInode(string) (uint64, bool) { return 0, false }
