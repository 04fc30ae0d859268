package tshark

import (
	"fmt"
	"iter"
	"maps"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sluice/internal/pcap"
	"sluice/pipeline/record"
)

// This file holds what the decoders' field-by-field comparisons with tshark
// share: the captures they read, the matching of records frame by frame,
// and the table of known differences, whose every entry must still be
// needed.

// InteropDir holds the datagrams collector/interop recorded from real
// exporters, relative to a decoder package's directory
// (collector/netflow, collector/sflow).
var InteropDir = filepath.Join("..", "testdata", "interop")

// Difference is a known difference between sluice and tshark for one field
// ("count" for the number of records of a frame) of one capture ("*" for
// every capture), with the reason it is tshark's fault or a deliberate
// choice.
type Difference struct {
	File, Field, Reason string
}

// Check is one flow field compared with tshark. Want returns tshark's value
// formatted as Got formats sluice's, and false when tshark does not report
// it.
type Check struct {
	Field string
	Want  func(r *Record) (string, bool)
	Got   func(f *record.Flow) string
}

// Capture is one capture as sluice's decoders and tshark see it.
type Capture struct {
	Name      string // base name, as in Difference.File
	Datagrams []pcap.Datagram
	Records   []Record // tshark's flow records, matched in order within a frame
	Frames    []Frame
}

// Comparison compares a decoder with tshark over captures, reporting as
// test errors the differences its table of known ones does not excuse.
type Comparison struct {
	tb     testing.TB
	tshark string
	unit   string
	known  []Difference
	used   []bool

	// Files counts the captures Captures yielded.
	Files int
	// Compared counts the values compared, by field.
	Compared map[string]int
	// Records counts the records both decoded and compared; Identical
	// those whose every compared field matched.
	Records, Identical int
}

// NewComparison returns a comparison that runs tshark (its path), names a
// record unit ("record", "sample") in the differences it lists, and excuses
// the known differences.
func NewComparison(tb testing.TB, tshark, unit string, known []Difference) *Comparison {
	return &Comparison{tb: tb, tshark: tshark, unit: unit, known: known, used: make([]bool, len(known)), Compared: map[string]int{}}
}

// Captures yields the captures the decoders are compared on, the corpus's
// (corpus/*.pcap) then those under InteropDir, that have datagrams and
// whose first datagram's payload keep accepts, decoded with tshark, and
// counts them in Files. There must be captures under InteropDir; an error
// fails the test.
func (c *Comparison) Captures(corpus string, keep func(payload []byte) bool) iter.Seq[*Capture] {
	return func(yield func(*Capture) bool) {
		c.tb.Helper()
		files, err := filepath.Glob(filepath.Join(corpus, "*.pcap"))
		if err != nil {
			c.tb.Fatal(err)
		}
		exported, err := filepath.Glob(filepath.Join(InteropDir, "*.pcap"))
		if err != nil || len(exported) == 0 {
			c.tb.Fatalf("no captures in %s: %v", InteropDir, err)
		}
		for _, path := range append(files, exported...) {
			datagrams, _, err := pcap.ReadFile(path)
			if err != nil {
				c.tb.Fatal(err)
			}
			if len(datagrams) == 0 || !keep(datagrams[0].Payload) {
				continue
			}
			c.Files++
			records, frames, err := Decode(c.tshark, path)
			if err != nil {
				c.tb.Fatal(err)
			}
			if !yield(&Capture{Name: filepath.Base(path), Datagrams: datagrams, Records: records, Frames: frames}) {
				return
			}
		}
	}
}

// Compare has decode hand each flow sluice decodes from a datagram to emit,
// datagram by datagram, and compares the flows with tshark's records of the
// same frame: their number, then every check that tshark reports a value
// for on the records both decoded, in order (when one decoder stops early,
// the records both decoded are still compared). It then fails the test for
// each field that differed, listing the first three differences, unless
// the table excuses the field for this capture.
func (c *Comparison) Compare(cp *Capture, checks []Check, decode func(dg pcap.Datagram, emit func(*record.Flow))) {
	c.tb.Helper()
	byFrame := map[int][]Record{}
	for _, r := range cp.Records {
		byFrame[r.Frame] = append(byFrame[r.Frame], r)
	}
	diffs := map[string][]string{}
	records, identicalRecords := 0, 0
	for _, dg := range cp.Datagrams {
		var flows []record.Flow
		decode(dg, func(f *record.Flow) {
			flows = append(flows, *f)
		})
		want := byFrame[dg.Frame]
		if len(flows) != len(want) {
			diffs["count"] = append(diffs["count"], fmt.Sprintf("frame %d: sluice %d records, tshark %d", dg.Frame, len(flows), len(want)))
		}
		for i := range min(len(flows), len(want)) {
			identical := true
			for _, check := range checks {
				w, ok := check.Want(&want[i])
				if !ok {
					continue
				}
				c.Compared[check.Field]++
				if g := check.Got(&flows[i]); g != w {
					identical = false
					diffs[check.Field] = append(diffs[check.Field], fmt.Sprintf("frame %d %s %d: sluice %s, tshark %s", dg.Frame, c.unit, i+1, g, w))
				}
			}
			records++
			if identical {
				identicalRecords++
			}
		}
	}
	c.Records += records
	c.Identical += identicalRecords
	// Per capture, which fields differ (excused ones marked), so a run's
	// log shows the state of every capture, not only the failures.
	var differing []string
	for _, field := range slices.Sorted(maps.Keys(diffs)) {
		if c.wouldExcuse(cp.Name, field) {
			field += " (known)"
		}
		differing = append(differing, field)
	}
	c.tb.Logf("%s: %d %ss compared, %d identical in every field tshark reports; differing: %v", cp.Name, records, c.unit, identicalRecords, differing)
	for _, field := range slices.Sorted(maps.Keys(diffs)) {
		if c.excused(cp.Name, field) {
			continue
		}
		list := diffs[field]
		more := ""
		if len(list) > 3 {
			more = fmt.Sprintf(" (and %d more)", len(list)-3)
			list = list[:3]
		}
		c.tb.Errorf("%s: %s differs: %s%s", cp.Name, field, strings.Join(list, "; "), more)
	}
}

// excused reports whether the table excuses a field of a capture, and marks
// the first entry that does as used.
func (c *Comparison) excused(file, field string) bool {
	for i, d := range c.known {
		if (d.File == file || d.File == "*") && d.Field == field {
			c.used[i] = true
			return true
		}
	}
	return false
}

// wouldExcuse reports whether the table excuses a field of a capture,
// marking nothing.
func (c *Comparison) wouldExcuse(file, field string) bool {
	for _, d := range c.known {
		if (d.File == file || d.File == "*") && d.Field == field {
			return true
		}
	}
	return false
}

// Finish fails the test for each entry of the table that excused no
// difference, so that the table does not outlive the differences it
// explains.
func (c *Comparison) Finish() {
	c.tb.Helper()
	for i, d := range c.known {
		if !c.used[i] {
			c.tb.Errorf("difference table entry %s/%s matches no difference any more: remove it", d.File, d.Field)
		}
	}
}

// Addr formats an address as tshark prints it the way sluice's record.Addr
// prints one (an IPv4-mapped address as IPv4), or as "unparsable …".
func Addr(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "unparsable " + s
	}
	return a.Unmap().String()
}

// MAC formats a MAC address as tshark prints it ("00:1b:21:3c:9d:f8") as the
// decimal number sluice stores, or as "unparsable …".
func MAC(s string) string {
	v, err := strconv.ParseUint(strings.ReplaceAll(s, ":", ""), 16, 64)
	if err != nil {
		return "unparsable " + s
	}
	return strconv.FormatUint(v, 10)
}
