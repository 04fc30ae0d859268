// Package ceftest parses CEF lines back, for the tests of the CEF format
// and of the transports that carry it: an independent reading of the
// standard's escaping rules, written from the specification rather than
// from the encoder.
package ceftest

import (
	"fmt"
	"strings"
)

// Event is one parsed CEF line.
type Event struct {
	// Header is the seven header fields, unescaped: version ("CEF:0"),
	// vendor, product, device version, signature ID, name, severity.
	Header [7]string
	// Extension maps each key to its unescaped value.
	Extension map[string]string
	// Keys lists the extension keys in their order.
	Keys []string
}

// Parse reads one CEF line.
func Parse(line string) (Event, error) {
	var ev Event
	rest := line
	for i := range ev.Header {
		var b strings.Builder
		j := 0
		for ; j < len(rest); j++ {
			c := rest[j]
			if c == '\\' && j+1 < len(rest) && (rest[j+1] == '\\' || rest[j+1] == '|') {
				b.WriteByte(rest[j+1])
				j++
				continue
			}
			if c == '|' {
				break
			}
			if c == '\\' {
				return ev, fmt.Errorf("header field %d: bad escape at %q", i, rest[j:])
			}
			b.WriteByte(c)
		}
		if j == len(rest) {
			return ev, fmt.Errorf("header field %d: no closing |", i)
		}
		ev.Header[i] = b.String()
		rest = rest[j+1:]
	}
	if !strings.HasPrefix(ev.Header[0], "CEF:") {
		return ev, fmt.Errorf("no CEF: prefix: %q", ev.Header[0])
	}
	ev.Extension = map[string]string{}
	// Every unescaped '=' ends a key: values escape theirs. The key is the
	// word before it; the previous value ends at the space before that word.
	type mark struct{ keyStart, eq int }
	var marks []mark
	for j := 0; j < len(rest); j++ {
		switch rest[j] {
		case '\\':
			j++
		case '=':
			k := strings.LastIndexByte(rest[:j], ' ') + 1
			if k == j {
				return ev, fmt.Errorf("extension: empty key at %d", j)
			}
			marks = append(marks, mark{k, j})
		}
	}
	if len(marks) == 0 && strings.TrimSpace(rest) != "" {
		return ev, fmt.Errorf("extension without key=value: %q", rest)
	}
	for i, m := range marks {
		end := len(rest)
		if i+1 < len(marks) {
			end = marks[i+1].keyStart - 1
			if end < m.eq+1 || rest[end] != ' ' {
				return ev, fmt.Errorf("extension: no space before key %q", rest[marks[i+1].keyStart:marks[i+1].eq])
			}
		}
		key := rest[m.keyStart:m.eq]
		for _, c := range key {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
				return ev, fmt.Errorf("extension: bad key %q", key)
			}
		}
		value, err := unescape(rest[m.eq+1 : end])
		if err != nil {
			return ev, fmt.Errorf("extension %s: %w", key, err)
		}
		if _, dup := ev.Extension[key]; dup {
			return ev, fmt.Errorf("extension: key %s twice", key)
		}
		ev.Extension[key] = value
		ev.Keys = append(ev.Keys, key)
	}
	return ev, nil
}

func unescape(s string) (string, error) {
	var b strings.Builder
	for j := 0; j < len(s); j++ {
		c := s[j]
		if c == '\n' || c == '\r' {
			return "", fmt.Errorf("raw line break in %q", s)
		}
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if j+1 == len(s) {
			return "", fmt.Errorf("trailing backslash in %q", s)
		}
		j++
		switch s[j] {
		case '\\', '=':
			b.WriteByte(s[j])
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		default:
			return "", fmt.Errorf("bad escape \\%c in %q", s[j], s)
		}
	}
	return b.String(), nil
}
