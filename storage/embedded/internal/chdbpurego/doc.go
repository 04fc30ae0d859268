// Package chdbpurego is github.com/chdb-io/chdb-go v1.11.0's chdb-purego
// package (Apache License 2.0, LICENSE.txt), copied with one change:
// libchdb is opened on the first connection rather than in an init
// function that panics when it is missing, so that one sluice binary
// serves every role and only the roles that open the embedded engine need
// libchdb (CHDB_LIB_PATH).
package chdbpurego
