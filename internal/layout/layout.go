// Package layout holds the test that keeps the tree in the shape of the
// data flow (README, "Layout"): imports run with the data, stages do not
// reach into each other, and production code never carries test support.
// It has no code of its own.
package layout
