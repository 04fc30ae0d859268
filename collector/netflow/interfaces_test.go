package netflow

import (
	"encoding/binary"
	"path/filepath"
	"strconv"
	"testing"

	"sluice/collector/templates"
	"sluice/internal/pcap"
	"sluice/internal/testenv"
	"sluice/internal/tshark"
	"sluice/pipeline/record"
)

// ipfixInterfaceNames is an IPFIX datagram (domain 0) with an options
// template (scope ingressInterface, options interfaceName and
// interfaceDescription, both variable-length, RFC 7011 §7) and its data
// records.
func ipfixInterfaceNames(names map[uint32][2]string) []byte {
	be16 := binary.BigEndian.AppendUint16
	tmpl := be16(be16(be16(nil, 300), 3), 1) // ID, fields, scope fields
	for _, f := range [][2]uint16{{10, 4}, {82, 0xffff}, {83, 0xffff}} {
		tmpl = be16(be16(tmpl, f[0]), f[1])
	}
	var data []byte
	for _, ifIndex := range []uint32{1, 2, 3} {
		n, ok := names[ifIndex]
		if !ok {
			continue
		}
		data = binary.BigEndian.AppendUint32(data, ifIndex)
		for _, s := range n {
			data = append(append(data, byte(len(s))), s...)
		}
	}
	return ipfixMessage(set(3, tmpl...), set(300, data...))
}

func TestInterfaceNamesFromIPFIXOptions(t *testing.T) {
	d := New(Config{})
	msg := ipfixInterfaceNames(map[uint32][2]string{1: {"xe-0/0/1", "uplink to transit A"}, 3: {"ae3", ""}})
	if _, err := d.Decode(testExporter, 1, msg, func(*record.Flow) {}); err != nil {
		t.Fatal(err)
	}
	h := d.Templates().Handle(testExporter, 2)
	for ifIndex, want := range map[uint32]templates.InterfaceNames{1: {Name: "xe-0/0/1", Description: "uplink to transit A"}, 3: {Name: "ae3"}} {
		got, ok := h.Interface(templates.InterfaceKey{Version: 10, ObservationDomain: 0, IfIndex: ifIndex})
		if !ok || got != want {
			t.Errorf("interface %d: %+v (%v), want %+v", ifIndex, got, ok, want)
		}
	}
	if _, ok := h.Interface(templates.InterfaceKey{Version: 10, ObservationDomain: 1, IfIndex: 1}); ok {
		t.Error("names leak to another observation domain")
	}
	// A refresh with a new name replaces it; the same names again change nothing.
	changes := d.Templates().Changes()
	d.Decode(testExporter, 3, ipfixInterfaceNames(map[uint32][2]string{1: {"xe-0/0/1", "uplink to transit A"}}), func(*record.Flow) {})
	if d.Templates().Changes() != changes {
		t.Error("an identical refresh counted as a change")
	}
	d.Decode(testExporter, 4, ipfixInterfaceNames(map[uint32][2]string{1: {"xe-0/0/1", "uplink to transit B"}}), func(*record.Flow) {})
	h = d.Templates().Handle(testExporter, 5)
	if got, _ := h.Interface(templates.InterfaceKey{Version: 10, ObservationDomain: 0, IfIndex: 1}); got.Description != "uplink to transit B" {
		t.Errorf("after a rename: %+v", got)
	}
	if st := d.Templates().Stats(); st.Interfaces != 2 {
		t.Errorf("stats %+v, want 2 interfaces", st)
	}
}

// The corpus's Cisco NetFlow v9 options (interface names as options beside
// a system scope) give the names tshark decodes.
func TestInterfaceNamesCorpusMatchTshark(t *testing.T) {
	const file = "telegraf__nf9-options.pcap"
	path := filepath.Join(testenv.CorpusDir(t), file)
	_, frames, err := tshark.Decode(testenv.Tshark(t), path)
	if err != nil {
		t.Fatal(err)
	}
	datagrams, _, err := pcap.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := New(Config{})
	compared := 0
	for i, dg := range datagrams {
		exporter := record.AddrFromSlice(dg.Src.AsSlice())
		d.Decode(exporter, dg.Timestamp, dg.Payload, func(*record.Flow) {})
		h := d.Templates().Handle(exporter, dg.Timestamp)
		domain, _ := strconv.ParseUint(frames[i].Header["cflow.source_id"][0], 0, 32)
		for _, o := range frames[i].Options {
			if len(o["cflow.if_name"]) == 0 {
				continue
			}
			ifIndex, err := strconv.ParseUint(o["cflow.inputint"][0], 0, 32)
			if err != nil {
				t.Fatalf("tshark options record %v", o)
			}
			got, _ := h.Interface(templates.InterfaceKey{Version: 9, ObservationDomain: uint32(domain), IfIndex: uint32(ifIndex)})
			if want := (templates.InterfaceNames{Name: o["cflow.if_name"][0], Description: o["cflow.if_descr"][0]}); got != want {
				t.Errorf("ifIndex %d: %+v, tshark %+v", ifIndex, got, want)
			}
			compared++
		}
	}
	if compared < 8 {
		t.Errorf("compared %d interfaces, the capture names 8", compared)
	}
}

// ipfixFlows is an IPFIX datagram (domain 0) with a data template
// (ingressInterface, egressInterface, octetDeltaCount) when withTemplate,
// and one record per pair of interfaces.
func ipfixFlows(withTemplate bool, pairs ...[2]uint32) []byte {
	be16 := binary.BigEndian.AppendUint16
	tmpl := be16(be16(nil, 256), 3)
	for _, f := range [][2]uint16{{10, 4}, {14, 4}, {1, 8}} {
		tmpl = be16(be16(tmpl, f[0]), f[1])
	}
	var data []byte
	for _, p := range pairs {
		data = binary.BigEndian.AppendUint32(data, p[0])
		data = binary.BigEndian.AppendUint32(data, p[1])
		data = binary.BigEndian.AppendUint64(data, 1500)
	}
	if withTemplate {
		return ipfixMessage(set(2, tmpl...), set(256, data...))
	}
	return ipfixMessage(set(256, data...))
}

// Records of an exporter that announced interface names carry them, for
// both directions; unknown interfaces stay unnamed.
func TestInterfaceNamesOnRecords(t *testing.T) {
	d := New(Config{})
	var flows []record.Flow
	collect := func(f *record.Flow) { flows = append(flows, *f) }
	// Before any names: nothing set.
	if _, err := d.Decode(testExporter, 1, ipfixFlows(true, [2]uint32{1, 3}), collect); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Decode(testExporter, 2, ipfixInterfaceNames(map[uint32][2]string{1: {"xe-0/0/1", "uplink to transit A"}, 3: {"ae3", ""}}), collect); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Decode(testExporter, 3, ipfixFlows(false, [2]uint32{1, 3}, [2]uint32{3, 2}), collect); err != nil {
		t.Fatal(err)
	}
	if len(flows) != 3 {
		t.Fatalf("%d flows", len(flows))
	}
	type names struct{ inName, inDescr, outName, outDescr string }
	want := []names{{}, {"xe-0/0/1", "uplink to transit A", "ae3", ""}, {"ae3", "", "", ""}}
	for i, f := range flows {
		if got := (names{f.InIfName, f.InIfDescription, f.OutIfName, f.OutIfDescription}); got != want[i] {
			t.Errorf("flow %d (in %d, out %d): %+v, want %+v", i, f.InIfIndex, f.OutIfIndex, got, want[i])
		}
	}
	// Another exporter's records are not named after these.
	other := record.AddrFrom4([4]byte{192, 0, 2, 99})
	flows = flows[:0]
	d.Decode(other, 4, ipfixFlows(true, [2]uint32{1, 3}), collect)
	if len(flows) != 1 || flows[0].InIfName != "" {
		t.Errorf("other exporter: %+v", flows)
	}
}
