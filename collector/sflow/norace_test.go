//go:build !race

package sflow

const raceEnabled = false
