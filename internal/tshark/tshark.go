// Package tshark reads tshark's decoding of flow-export captures, the
// reference the collector's decoders are compared with in tests. It runs
// `tshark -T json` on a capture, with each UDP port of the capture decoded as
// cflow (NetFlow v5/v9, IPFIX) or sflow according to the datagrams' version
// field, and flattens each flow record of the JSON tree into a map from
// field name to values.
//
// It is for tests: nothing in the collector's run path imports it.
package tshark

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	"sluice/internal/pcap"
)

// Record is one flow record as tshark decodes it.
type Record struct {
	// Frame is the capture record number (pcap.Datagram.Frame).
	Frame int
	// Index is the record's position among the flow records of its frame.
	Index int
	// Fields holds every field of the record, nested trees flattened, in
	// order of appearance (a sampled header's inner fields included).
	Fields map[string][]string
	// Header holds the datagram header's fields (cflow.version,
	// cflow.sysuptime, cflow.unix_secs, sflow_245.agent, …).
	Header map[string][]string
	// Template lists the names of the fields of a NetFlow v9/IPFIX
	// record's template, in order, as tshark labels them ("BYTES",
	// "BYTES [Reverse]" for an RFC 5103 reverse element…).
	Template []string
	// Parts holds the record's labelled subtrees apart, flattened: an sFlow
	// sample's "Extended router data", "Extended gateway data", "Raw packet
	// header"…, where the same field name appears in several.
	Parts []Part
}

// Part is a labelled subtree of a record.
type Part struct {
	Label  string
	Fields map[string][]string
}

// Part returns the fields of the first part whose label starts with
// prefix, nil if there is none.
func (r *Record) Part(prefix string) map[string][]string {
	for _, p := range r.Parts {
		if strings.HasPrefix(p.Label, prefix) {
			return p.Fields
		}
	}
	return nil
}

// First returns the first value of a field, and whether there is one.
func (r *Record) First(name string) (string, bool) {
	if v := r.Fields[name]; len(v) > 0 {
		return v[0], true
	}
	if v := r.Header[name]; len(v) > 0 {
		return v[0], true
	}
	return "", false
}

// Uint parses the first value of a field as an unsigned integer, decimal or
// 0x-prefixed hexadecimal.
func (r *Record) Uint(name string) (uint64, bool) {
	s, ok := r.First(name)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		return 0, false
	}
	return v, true
}

// Frame is everything tshark says about one capture record.
type Frame struct {
	Number    int
	Malformed bool                // tshark flagged the packet as malformed
	Expert    []string            // expert info messages
	Header    map[string][]string // the flow protocol's header fields
	Templates int                 // NetFlow v9/IPFIX template records (data and options)
	// Options holds the NetFlow v9/IPFIX options data records, flattened.
	Options []map[string][]string
	// Counters holds the sFlow counter samples (compact and expanded),
	// flattened.
	Counters []map[string][]string
}

// Protocol names accepted by Decode.
const (
	CFlow = "cflow"
	SFlow = "sflow"
)

// Ports returns the UDP destination ports of a capture, each with the
// dissector its datagrams need: sflow when the first datagram to it starts
// with the 32-bit version 5, else cflow.
func Ports(path string) (map[uint16]string, error) {
	datagrams, _, err := pcap.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ports := map[uint16]string{}
	for _, d := range datagrams {
		if _, ok := ports[d.DstPort]; ok {
			continue
		}
		if len(d.Payload) >= 4 && binary.BigEndian.Uint32(d.Payload) == 5 {
			ports[d.DstPort] = SFlow
		} else {
			ports[d.DstPort] = CFlow
		}
	}
	return ports, nil
}

// Decode runs tshark (its path) on a capture and returns its flow records
// in capture order, and every frame's header fields. NetFlow v9/IPFIX
// options data records are left out (they are not flows); records of data
// sets whose template tshark did not know are absent, as in the collector.
func Decode(tshark, path string) ([]Record, []Frame, error) {
	ports, err := Ports(path)
	if err != nil {
		return nil, nil, err
	}
	// Without --no-duplicate-keys, tshark repeats a key for each
	// occurrence; parse keeps them all, in order.
	args := []string{"-r", path, "-n", "-T", "json"}
	for _, p := range slices.Sorted(maps.Keys(ports)) {
		args = append(args, "-d", fmt.Sprintf("udp.port==%d,%s", p, ports[p]))
	}
	cmd := exec.Command(tshark, args...)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, nil, fmt.Errorf("tshark %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	doc, err := parse(json.NewDecoder(bytes.NewReader(out)))
	if err != nil {
		return nil, nil, fmt.Errorf("tshark json of %s: %w", path, err)
	}
	packets, _ := doc.([]any)
	var records []Record
	var frames []Frame
	optionsTemplates := map[string]bool{}   // IDs of options templates seen so far
	templateFields := map[string][]string{} // field names of each template seen so far
	for _, p := range packets {
		source, _ := get(p, "_source").(*object)
		l, _ := get(source, "layers").(*object)
		if l == nil {
			continue
		}
		fr := Frame{Header: map[string][]string{}}
		if n, ok := get(get(l, "frame"), "frame.number").(string); ok {
			fr.Number, _ = strconv.Atoi(n)
		}
		if get(l, "_ws.malformed") != nil {
			fr.Malformed = true
		}
		collectExpert(l, &fr.Expert)
		if cflow, ok := get(l, "cflow").(*object); ok {
			records = cflowRecords(cflow, &fr, optionsTemplates, templateFields, records)
		}
		if sflow, ok := get(l, "sflow").(*object); ok {
			records = sflowRecords(sflow, &fr, records)
		}
		frames = append(frames, fr)
	}
	return records, frames, nil
}

// object is a JSON object that keeps its keys in order: tshark's records
// and samples are keys of their parent object, in packet order.
type object struct {
	keys   []string
	values []any
}

// get returns the first value of key in v if v is an object, else nil.
func get(v any, key string) any {
	o, ok := v.(*object)
	if !ok || o == nil {
		return nil
	}
	for i, k := range o.keys {
		if k == key {
			return o.values[i]
		}
	}
	return nil
}

// parse reads one JSON value, objects as *object, arrays as []any, and
// scalars as strings (numbers and booleans too; null as nil).
func parse(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := &object{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := parse(dec)
				if err != nil {
					return nil, err
				}
				o.keys = append(o.keys, k.(string))
				o.values = append(o.values, v)
			}
			_, err := dec.Token() // '}'
			return o, err
		case '[':
			var l []any
			for dec.More() {
				v, err := parse(dec)
				if err != nil {
					return nil, err
				}
				l = append(l, v)
			}
			_, err := dec.Token() // ']'
			return l, err
		}
	case string:
		return t, nil
	case nil:
		return nil, nil
	}
	return fmt.Sprint(tok), nil
}

// cflowRecords reads a cflow layer: v5 records are "pdu i/n" subtrees,
// v9/IPFIX records "Flow i" subtrees of "FlowSet" (v9) or "Set" (IPFIX)
// subtrees.
//
// Options data records are told apart by their set ID, an options
// template's (IPFIX shows their scope fields like any other field), or by
// v9's scope fields.
func cflowRecords(layer *object, fr *Frame, optionsTemplates map[string]bool, templateFields map[string][]string, records []Record) []Record {
	index := 0
	add := func(tree *object, options bool, template []string) {
		fields := map[string][]string{}
		flatten(tree, fields)
		for name := range fields {
			if strings.HasPrefix(name, "cflow.scope") {
				options = true
			}
		}
		if options {
			fr.Options = append(fr.Options, fields)
			return
		}
		records = append(records, Record{Frame: fr.Number, Index: index, Fields: fields, Header: fr.Header, Template: template})
		index++
	}
	for i, key := range layer.keys {
		value := layer.values[i]
		switch {
		case strings.HasPrefix(key, "pdu "):
			if tree, ok := value.(*object); ok {
				add(tree, false, nil)
			}
		case strings.HasPrefix(key, "FlowSet ") || strings.HasPrefix(key, "Set "):
			for _, set := range asList(value) {
				set, ok := set.(*object)
				if !ok {
					continue
				}
				setID, _ := get(set, "cflow.flowset_id").(string)
				for j, k := range set.keys {
					if strings.HasPrefix(k, "Template (") || strings.HasPrefix(k, "Options Template (") {
						fr.Templates++
						id, _ := get(set.values[j], "cflow.template_id").(string)
						optionsTemplates[id] = strings.HasPrefix(k, "Options")
						var names []string
						if t, ok := set.values[j].(*object); ok {
							for _, fk := range t.keys {
								// "Field (4/18): BYTES [Reverse]"
								if rest, ok := strings.CutPrefix(fk, "Field ("); ok {
									if _, name, ok := strings.Cut(rest, "): "); ok {
										names = append(names, name)
									}
								}
							}
						}
						templateFields[id] = names
					}
					if strings.HasPrefix(k, "Flow ") {
						for _, rec := range asList(set.values[j]) {
							if tree, ok := rec.(*object); ok {
								add(tree, optionsTemplates[setID], templateFields[setID])
							}
						}
					}
				}
			}
		default:
			flattenValue(key, value, fr.Header)
		}
	}
	return records
}

// sflowRecords reads an sflow layer: flow samples (compact or expanded) are
// records; counter samples are not.
func sflowRecords(layer *object, fr *Frame, records []Record) []Record {
	index := 0
	for i, key := range layer.keys {
		value := layer.values[i]
		switch {
		case strings.HasPrefix(key, "Flow sample") || strings.HasPrefix(key, "Expanded flow sample"):
			for _, s := range asList(value) {
				if tree, ok := s.(*object); ok {
					fields := map[string][]string{}
					flatten(tree, fields)
					rec := Record{Frame: fr.Number, Index: index, Fields: fields, Header: fr.Header}
					for j, k := range tree.keys {
						if sub, ok := tree.values[j].(*object); ok && !strings.Contains(k, ".") {
							part := Part{Label: k, Fields: map[string][]string{}}
							flatten(sub, part.Fields)
							rec.Parts = append(rec.Parts, part)
						}
					}
					records = append(records, rec)
					index++
				}
			}
		case strings.HasPrefix(key, "Counters sample") || strings.HasPrefix(key, "Expanded counters sample"):
			for _, s := range asList(value) {
				if tree, ok := s.(*object); ok {
					fields := map[string][]string{}
					flatten(tree, fields)
					fr.Counters = append(fr.Counters, fields)
				}
			}
		case strings.Contains(key, "sample"):
			// drop and other samples
		default:
			flattenValue(key, value, fr.Header)
		}
	}
	return records
}

// flatten adds every leaf of a JSON tree to fields, in order. Subtree
// labels (keys without a dot, such as "Forwarding Status") are descended
// into.
func flatten(tree *object, fields map[string][]string) {
	for i, k := range tree.keys {
		flattenValue(k, tree.values[i], fields)
	}
}

func flattenValue(key string, value any, fields map[string][]string) {
	switch v := value.(type) {
	case string:
		fields[key] = append(fields[key], v)
	case []any:
		for _, e := range v {
			flattenValue(key, e, fields)
		}
	case *object:
		flatten(v, fields)
	}
}

func collectExpert(v any, out *[]string) {
	switch v := v.(type) {
	case *object:
		for i, k := range v.keys {
			if k == "_ws.expert.message" {
				if s, ok := v.values[i].(string); ok {
					*out = append(*out, s)
				}
				continue
			}
			collectExpert(v.values[i], out)
		}
	case []any:
		for _, e := range v {
			collectExpert(e, out)
		}
	}
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}
