package main

import (
	"os"
	"testing"
)

// The fixtures are real outputs: goflow2 v2.2.6's /metrics after 300 records of each protocol
// from sluice demo, `nfdump -I` of an nfcapd 1.7.1 file holding 250 IPFIX records, and pmacct
// 1.7.7's memory table after 250 NetFlow v9 records from 3 exporters.

func TestGoflow2Records(t *testing.T) {
	data, err := os.ReadFile("testdata/goflow2-metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	// 300 each of NetFlow v5, v9, IPFIX and sFlow; template records are not counted.
	if got := goflow2Records(string(data)); got != 1200 {
		t.Errorf("goflow2Records = %d, want 1200", got)
	}
}

func TestParseNfdumpFlows(t *testing.T) {
	data, err := os.ReadFile("testdata/nfdump-I.txt")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := parseNfdumpFlows(data); err != nil || got != 250 {
		t.Errorf("parseNfdumpFlows = %d, %v; want 250", got, err)
	}
	if _, err := parseNfdumpFlows([]byte("Ident: none\n")); err == nil {
		t.Error("no Flows line: want an error")
	}
}

func TestParsePmacctCSV(t *testing.T) {
	data, err := os.ReadFile("testdata/pmacct-s.csv")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := parsePmacctCSV(data, false); err != nil || got != 250 {
		t.Errorf("flows = %d, %v; want 250", got, err)
	}
	if got, err := parsePmacctCSV(data, true); err != nil || got != 195+254+186 {
		t.Errorf("packets = %d, %v; want %d", got, err, 195+254+186)
	}
	if _, err := parsePmacctCSV([]byte("ERROR: Unable to connect\n"), false); err == nil {
		t.Error("an error message: want an error")
	}
}
