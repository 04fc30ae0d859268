// Package schematest checks SIEM documents against the official
// definitions: ECS's field definitions from @elastic/ecs (fetched by
// deploy/dev/deps.sh ecs) and OCSF's schema compiled at a pinned version
// (shipped in pipeline/siem/ocsf/testdata). Test support only.
package schematest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"sluice/internal/testenv"
	"sluice/pipeline/record"
	"sluice/pipeline/siem"
)

// ECS is the ECS field definitions: flat name → definition.
type ECS struct {
	Version string
	Fields  map[string]ECSField
}

// ECSField is one field's definition.
type ECSField struct {
	Type      string   `json:"type"`
	Normalize []string `json:"normalize"`
	Allowed   []string `json:"allowed"`
}

// LoadECS runs deploy/dev/deps.sh ecs (a no-op once fetched) and reads the
// definitions; without npm it skips, or fails in CI.
func LoadECS(tb testing.TB) *ECS {
	tb.Helper()
	root := testenv.RepoRoot(tb)
	out, err := exec.Command(filepath.Join(root, "deploy/dev/deps.sh"), "ecs").Output()
	if err != nil {
		testenv.Missing(tb, fmt.Sprintf("ECS definitions (deploy/dev/deps.sh ecs: %v)", err))
		return nil
	}
	path := strings.TrimSpace(string(out))
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	e := &ECS{}
	if err := json.Unmarshal(data, &e.Fields); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	v, err := os.ReadFile(filepath.Join(filepath.Dir(path), "ecs-version.txt"))
	if err != nil {
		tb.Fatal(err)
	}
	e.Version = strings.TrimSpace(string(v))
	return e
}

// Check returns every problem of doc against the definitions: fields that
// do not exist, values of the wrong type or not allowed, arrays where the
// field is not one, and a missing or wrong ecs.version.
func (e *ECS) Check(doc []byte) []string {
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		return []string{fmt.Sprintf("not JSON: %v", err)}
	}
	var problems []string
	e.walk("", m, &problems)
	if got, _ := dig(m, "ecs", "version").(string); got != e.Version {
		problems = append(problems, fmt.Sprintf("ecs.version: got %q, the definitions are %s", got, e.Version))
	}
	if _, ok := m["@timestamp"]; !ok {
		problems = append(problems, "@timestamp: missing")
	}
	sort.Strings(problems)
	return problems
}

func (e *ECS) walk(prefix string, m map[string]any, problems *[]string) {
	for k, v := range m {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		def, known := e.Fields[path]
		switch v := v.(type) {
		case map[string]any:
			if known && def.Type == "object" && path == "labels" {
				for lk, lv := range v { // labels: keyword values
					if _, ok := lv.(string); !ok {
						*problems = append(*problems, fmt.Sprintf("%s.%s: want a keyword (string), got %T", path, lk, lv))
					}
				}
				continue
			}
			if known && def.Type != "object" {
				*problems = append(*problems, fmt.Sprintf("%s: an object, but the field is %s", path, def.Type))
				continue
			}
			e.walk(path, v, problems)
		case []any:
			if !known {
				*problems = append(*problems, fmt.Sprintf("%s: no such ECS field", path))
				continue
			}
			if def.Type == "nested" {
				for _, item := range v {
					obj, ok := item.(map[string]any)
					if !ok {
						*problems = append(*problems, fmt.Sprintf("%s: nested items must be objects", path))
						continue
					}
					e.walk(path, obj, problems)
				}
				continue
			}
			if !slices.Contains(def.Normalize, "array") {
				*problems = append(*problems, fmt.Sprintf("%s: an array, but the field is not one", path))
			}
			for _, item := range v {
				e.scalar(path, def, item, problems)
			}
		default:
			if !known {
				*problems = append(*problems, fmt.Sprintf("%s: no such ECS field", path))
				continue
			}
			e.scalar(path, def, v, problems)
		}
	}
}

func (e *ECS) scalar(path string, def ECSField, v any, problems *[]string) {
	bad := func(want string) {
		*problems = append(*problems, fmt.Sprintf("%s: want %s (%s), got %v (%T)", path, want, def.Type, v, v))
	}
	switch def.Type {
	case "keyword", "constant_keyword", "wildcard", "match_only_text", "text":
		s, ok := v.(string)
		if !ok {
			bad("a string")
			return
		}
		if len(def.Allowed) > 0 && !slices.Contains(def.Allowed, s) {
			bad("one of " + strings.Join(def.Allowed, "|"))
		}
	case "ip":
		s, _ := v.(string)
		if _, err := netip.ParseAddr(s); err != nil {
			bad("an IP address")
		}
	case "date":
		s, _ := v.(string)
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			bad("an RFC 3339 date")
		}
	case "long", "integer", "short", "byte", "unsigned_long":
		n, ok := v.(json.Number)
		if _, err := n.Int64(); !ok || err != nil {
			bad("an integer")
		}
	case "float", "double", "scaled_float", "half_float":
		if _, ok := v.(json.Number); !ok {
			bad("a number")
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			bad("a boolean")
		}
	default:
		bad("a type this check knows")
	}
}

func dig(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		o, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = o[k]
	}
	return v
}

// OCSF is a compiled OCSF schema, trimmed (see the testdata's trim.py).
type OCSF struct {
	Version string                `json:"version"`
	Classes map[string]OCSFObject `json:"classes"`
	Objects map[string]OCSFObject `json:"objects"`
	Types   map[string]struct {
		Type string `json:"type"`
	} `json:"types"`
}

// OCSFObject is a class or an object.
type OCSFObject struct {
	UID        int                      `json:"uid"`
	Attributes map[string]OCSFAttribute `json:"attributes"`
}

// OCSFAttribute is one attribute's definition.
type OCSFAttribute struct {
	Type        string   `json:"type"`
	Requirement string   `json:"requirement"`
	IsArray     bool     `json:"is_array"`
	Profile     string   `json:"profile"`
	Enum        []string `json:"enum"`
}

// LoadOCSF reads the schema file.
func LoadOCSF(tb testing.TB, path string) *OCSF {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var s OCSF
	if err := json.Unmarshal(data, &s); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return &s
}

// Check returns every problem of doc as an event of class: attributes
// the class or object does not have, values of the wrong type, integers
// outside their enum, required attributes missing (those of profiles
// apart: sluice applies none), and a wrong class_uid or metadata.version.
func (s *OCSF) Check(class string, doc []byte) []string {
	c, ok := s.Classes[class]
	if !ok {
		return []string{"no class " + class}
	}
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		return []string{fmt.Sprintf("not JSON: %v", err)}
	}
	var problems []string
	s.object("", c, m, &problems)
	if n, _ := m["class_uid"].(json.Number); n.String() != fmt.Sprint(c.UID) {
		problems = append(problems, fmt.Sprintf("class_uid: got %v, want %d", m["class_uid"], c.UID))
	}
	if v, _ := dig(m, "metadata", "version").(string); v != s.Version {
		problems = append(problems, fmt.Sprintf("metadata.version: got %q, want %s", v, s.Version))
	}
	sort.Strings(problems)
	return problems
}

func (s *OCSF) object(path string, o OCSFObject, m map[string]any, problems *[]string) {
	at := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	for name, a := range o.Attributes {
		if a.Requirement == "required" && a.Profile == "" {
			if _, ok := m[name]; !ok {
				*problems = append(*problems, fmt.Sprintf("%s: required, missing", at(name)))
			}
		}
	}
	for k, v := range m {
		a, ok := o.Attributes[k]
		if !ok {
			*problems = append(*problems, fmt.Sprintf("%s: no such attribute", at(k)))
			continue
		}
		if a.IsArray {
			items, ok := v.([]any)
			if !ok {
				*problems = append(*problems, fmt.Sprintf("%s: want an array", at(k)))
				continue
			}
			for i, item := range items {
				s.value(fmt.Sprintf("%s[%d]", at(k), i), a, item, problems)
			}
			continue
		}
		s.value(at(k), a, v, problems)
	}
}

func (s *OCSF) value(path string, a OCSFAttribute, v any, problems *[]string) {
	if a.Type == "object" || a.Type == "json_t" {
		return // any JSON (unmapped, data)
	}
	if obj, ok := s.Objects[a.Type]; ok {
		m, ok := v.(map[string]any)
		if !ok {
			*problems = append(*problems, fmt.Sprintf("%s: want a %s object, got %T", path, a.Type, v))
			return
		}
		s.object(path, obj, m, problems)
		return
	}
	base := a.Type
	for {
		t, ok := s.Types[base]
		if !ok {
			*problems = append(*problems, fmt.Sprintf("%s: unknown type %s", path, a.Type))
			return
		}
		if t.Type == "" {
			break
		}
		base = t.Type
	}
	bad := func() { *problems = append(*problems, fmt.Sprintf("%s: want %s, got %v (%T)", path, a.Type, v, v)) }
	switch base {
	case "string_t":
		str, ok := v.(string)
		if !ok {
			bad()
			return
		}
		switch a.Type {
		case "ip_t":
			if _, err := netip.ParseAddr(str); err != nil {
				bad()
			}
		case "mac_t":
			if len(str) != 17 {
				bad()
			}
		}
	case "integer_t", "long_t":
		n, ok := v.(json.Number)
		if _, err := n.Int64(); !ok || err != nil {
			bad()
			return
		}
		if len(a.Enum) > 0 && !slices.Contains(a.Enum, n.String()) {
			*problems = append(*problems, fmt.Sprintf("%s: %s is not in the enum %v", path, n, a.Enum))
		}
	case "float_t":
		if _, ok := v.(json.Number); !ok {
			bad()
		}
	case "boolean_t":
		if _, ok := v.(bool); !ok {
			bad()
		}
	default:
		bad()
	}
}

// Flows returns n fully enriched flows, varied (IPv4 and IPv6, TCP, UDP
// and ICMP, every direction, threat-feed hits on either side, NAT), for
// format tests and benchmarks.
func Flows(n int) []record.Flow {
	feedA, _ := record.RegisterFeed("spamhaus-drop")
	feedB, _ := record.RegisterFeed("tor-exits")
	out := make([]record.Flow, n)
	base := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	for i := range out {
		f := &out[i]
		f.TimeReceived = base.Add(time.Duration(i) * time.Millisecond).UnixNano()
		f.TimeFlowStart = base.Add(time.Duration(i)*time.Millisecond - 30*time.Second).UnixMilli()
		f.TimeFlowEnd = base.Add(time.Duration(i) * time.Millisecond).UnixMilli()
		f.FlowType = record.FlowType(1 + i%4)
		f.ExporterAddress = record.AddrFrom4([4]byte{192, 0, 2, byte(1 + i%3)})
		f.SamplingRate = uint64(1 + i%2*999)
		if i%5 == 4 {
			f.SrcAddr = record.Addr(netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", i+1)).As16())
			f.DstAddr = record.Addr(netip.MustParseAddr("2001:db8:1::80").As16())
		} else {
			f.SrcAddr = record.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
			f.DstAddr = record.AddrFrom4([4]byte{198, 51, 100, byte(i % 7)})
		}
		f.SrcPort, f.DstPort = uint16(40000+i%20000), 443
		f.Proto = []uint8{6, 17, 1, 47}[i%4]
		f.TCPFlags = 0x12
		f.Bytes, f.Packets = uint64(1500*(1+i%10)), uint64(1+i%10)
		f.SrcAS, f.DstAS = 64500, 15169
		f.DstASName = "Google LLC"
		f.SrcCountry, f.DstCountry = "FR", "US"
		f.DstGeoCity = "Mountain View"
		f.SrcMAC, f.DstMAC = 0x0242ac110002, 0x0242ac110003
		f.InIfIndex, f.OutIfIndex = 3, 7
		f.InIfName, f.OutIfName = "Gi0/0/3", "Te0/1/7"
		f.InIfDescription = "transit: \"carrier\" \\ 1"
		f.SrcVlan = uint16(i % 3 * 100)
		f.ExporterName, f.ExporterSite = "edge-1", "par1"
		f.SrcNetName = "office\n"
		f.ServiceName = "https"
		f.TrafficDirection = record.TrafficDirection(i % 5)
		if i%3 == 0 {
			f.SrcThreatFeeds = feedA
		}
		if i%4 == 0 {
			f.DstThreatFeeds = feedA | feedB
		}
		if i%6 == 0 {
			f.SrcAddrNAT = record.AddrFrom4([4]byte{203, 0, 113, 9})
			f.SrcPortNAT = 61000
		}
		f.FirewallEvent = uint8(i % 4)
		f.CommunityID = record.CommunityID{1, 2, 3, byte(i)}
	}
	return out
}

// Alerts returns one alert of each state, with and without addresses and
// threat feeds.
func Alerts() []record.Alert {
	t := time.Date(2026, 12, 7, 3, 1, 0, 0, time.UTC)
	return []record.Alert{{
		ID: "portscan-10.0.0.5-192.0.2.7", Detection: "vertical-port-scan", Severity: record.SeverityHigh, State: record.AlertOpen,
		Summary: "10.0.0.5 scanned 1,024 ports of 192.0.2.7", FirstSeen: t.Add(-time.Minute), LastSeen: t, Time: t,
		ExporterAddress: record.AddrFrom4([4]byte{192, 0, 2, 1}), SrcAddr: record.AddrFrom4([4]byte{10, 0, 0, 5}),
		DstAddr: record.AddrFrom4([4]byte{192, 0, 2, 7}), Proto: 6, Bytes: 61440, Packets: 1024, Flows: 1024,
		DedupKey: "10.0.0.5|192.0.2.7", Details: `{"ports":1024}`,
	}, {
		ID: "threat-203.0.113.9", Detection: "threat-intel", Severity: record.SeverityCritical, State: record.AlertUpdated,
		Summary: "traffic with 203.0.113.9 (spamhaus-drop)", FirstSeen: t.Add(-2 * time.Minute), LastSeen: t, Time: t.Add(time.Second),
		DstAddr: record.AddrFrom4([4]byte{203, 0, 113, 9}), DstPort: 443, Proto: 17, ThreatFeeds: []string{"spamhaus-drop"},
	}, {
		ID: "ddos-2001:db8::1", Detection: "volumetric-ddos", Severity: record.SeverityMedium, State: record.AlertClosed,
		Summary: "flood ended", Time: t.Add(2 * time.Second),
	}}
}

// BenchmarkFlows encodes fresh-ish flows with f, reporting events/s: the
// formats' per-record path, which must not allocate.
func BenchmarkFlows(b *testing.B, f siem.Format) {
	flows := Flows(4096)
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf, _ = f.AppendFlow(buf[:0], &flows[i%len(flows)], "0123456789abcdef-42")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
