package enrich

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"strings"

	"github.com/gaissmai/bart"
	"gopkg.in/yaml.v3"

	"sluice/pipeline/enrich/filestamp"
	"sluice/pipeline/enrich/ipv4map"
)

// netAttrs are a network's attributes, shared by every record in it.
type netAttrs struct {
	name, role, site, region, tenant string
}

// networkTable is the longest-prefix-match table of configured networks:
// IPv4 prefixes flattened (ipv4map), which answers the bulk of the lookups
// in a read or two, IPv6 prefixes in a prefix tree.
type networkTable struct {
	ipv4 *ipv4map.Map
	ipv6 *bart.Table[*netAttrs]
	// attrs[v-1] are the attributes of ipv4's value v.
	attrs []*netAttrs
}

func (t *networkTable) lookup(a netip.Addr) *netAttrs {
	if a = a.Unmap(); a.Is4() {
		if v := t.ipv4.LookupAddr(a); v != 0 {
			return t.attrs[v-1]
		}
		return nil
	}
	v, _ := t.ipv6.Lookup(a)
	return v
}

// size is the number of distinct prefixes.
func (t *networkTable) size() int { return t.ipv4.Prefixes() + t.ipv6.Size() }

// buildNetworks makes the table from the inline entries and the file's
// entries (parsed already), the file winning on the same prefix.
func buildNetworks(inline, file []NetworkEntry) *networkTable {
	t := &networkTable{ipv6: new(bart.Table[*netAttrs])}
	// Networks share few distinct attribute sets (a site, a tenant): keep
	// one copy of each.
	shared := map[netAttrs]uint32{}
	var ipv4 ipv4map.Builder
	for _, list := range [][]NetworkEntry{inline, file} {
		for _, e := range list {
			attrs := netAttrs{name: e.Name, role: e.Role, site: e.Site, region: e.Region, tenant: e.Tenant}
			v, ok := shared[attrs]
			if !ok {
				t.attrs = append(t.attrs, &attrs)
				v = uint32(len(t.attrs))
				shared[attrs] = v
			}
			if p := unmapPrefix(e.Prefix); !ipv4.Add(p, v) {
				t.ipv6.Insert(p, t.attrs[v-1])
			}
		}
	}
	t.ipv4 = ipv4.Build()
	return t
}

// readNetworksFile parses a networks file: YAML (.yaml, .yml) or CSV (.csv),
// and returns the stamp of what it read. Errors name the file and the line.
func readNetworksFile(path string) ([]NetworkEntry, filestamp.Stamp, error) {
	data, stamp, err := filestamp.Read(path)
	if err != nil {
		return nil, stamp, err
	}
	var entries []NetworkEntry
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		entries, err = parseNetworksCSV(path, data)
	case ".yaml", ".yml":
		entries, err = parseNetworksYAML(path, data)
	default:
		err = fmt.Errorf("%s: unknown format: want a .yaml, .yml or .csv file", path)
	}
	return entries, stamp, err
}

// parseNetworksYAML reads either a list of entries (prefix, name, role,
// site, region, tenant) or, as Akvorado writes it, a map from prefix to the
// other attributes.
func parseNetworksYAML(path string, data []byte) ([]NetworkEntry, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(root.Content) == 0 {
		return nil, nil
	}
	doc := root.Content[0]
	var entries []NetworkEntry
	switch doc.Kind {
	case yaml.SequenceNode:
		for _, item := range doc.Content {
			var e NetworkEntry
			if err := decodeStrict(item, &e); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, item.Line, err)
			}
			entries = append(entries, e)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(doc.Content); i += 2 {
			key, value := doc.Content[i], doc.Content[i+1]
			prefix, err := parsePrefix(key.Value)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, key.Line, err)
			}
			var e NetworkEntry
			if err := decodeStrict(value, &e); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, value.Line, err)
			}
			e.Prefix = prefix
			entries = append(entries, e)
		}
	default:
		return nil, fmt.Errorf("%s:%d: want a list of networks or a map from prefix to attributes", path, doc.Line)
	}
	for i, e := range entries {
		if err := e.validate(); err != nil {
			return nil, fmt.Errorf("%s: network %d: %w", path, i+1, err)
		}
	}
	return entries, nil
}

// decodeStrict decodes a node, refusing keys the struct does not have: a
// misspelt "tennant" must not silently drop the tenant.
func decodeStrict(node *yaml.Node, v any) error {
	out, err := yaml.Marshal(node)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(out))
	dec.KnownFields(true)
	return dec.Decode(v)
}

// parsePrefix reads a prefix, or a single address as a host prefix.
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is neither a prefix nor an address", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// networksCSVColumns are the columns a networks CSV file may have, in any
// order, named by its header line; only prefix is required.
var networksCSVColumns = []string{"prefix", "name", "role", "site", "region", "tenant"}

func parseNetworksCSV(path string, data []byte) ([]NetworkEntry, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comment = '#'
	r.TrimLeadingSpace = true
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	index := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		known := false
		for _, c := range networksCSVColumns {
			known = known || c == h
		}
		if !known {
			return nil, fmt.Errorf("%s:1: unknown column %q (want %s)", path, h, strings.Join(networksCSVColumns, ", "))
		}
		index[h] = i
	}
	if _, ok := index["prefix"]; !ok {
		return nil, fmt.Errorf("%s:1: no prefix column", path)
	}
	var entries []NetworkEntry
	for {
		row, err := r.Read()
		if errors.Is(err, io.EOF) {
			return entries, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		line, _ := r.FieldPos(0)
		field := func(name string) string {
			if i, ok := index[name]; ok && i < len(row) {
				return strings.TrimSpace(row[i])
			}
			return ""
		}
		prefix, err := parsePrefix(field("prefix"))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		e := NetworkEntry{Prefix: prefix, Name: field("name"), Role: field("role"), Site: field("site"), Region: field("region"), Tenant: field("tenant")}
		if err := e.validate(); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		entries = append(entries, e)
	}
}
