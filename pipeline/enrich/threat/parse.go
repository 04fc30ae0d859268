package threat

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
)

// parsed is what one feed document holds.
type parsed struct {
	prefixes []netip.Prefix
	// badLines counts lines that are neither comments nor entries;
	// firstBad quotes one for the log.
	badLines int
	firstBad string
}

func (p *parsed) bad(line string) {
	if p.badLines == 0 {
		if len(line) > 120 {
			line = line[:120] + "…"
		}
		p.firstBad = line
	}
	p.badLines++
}

// parseFeed reads a feed document in the given format. Bad lines are
// counted, not fatal; only an unreadable stream is an error.
func parseFeed(format string, data []byte) (parsed, error) {
	var p parsed
	var err error
	switch format {
	case FormatFireHOL, FormatPlain:
		err = eachLine(data, func(line string) {
			if i := strings.IndexAny(line, "#;"); i >= 0 {
				line = line[:i]
			}
			if line = strings.TrimSpace(line); line != "" {
				p.addText(line)
			}
		})
	case FormatTorExits:
		err = eachLine(data, func(line string) {
			line = strings.TrimSpace(line)
			fields := strings.Fields(line)
			switch {
			case line == "" || line[0] == '#':
			case fields[0] == "ExitAddress" && len(fields) >= 2:
				p.addText(fields[1])
			case fields[0] == "ExitNode" || fields[0] == "Published" || fields[0] == "LastStatus":
			case len(fields) == 1:
				p.addText(fields[0])
			default:
				p.bad(line)
			}
		})
	case FormatSpamhausDROP:
		err = eachLine(data, func(line string) {
			line = strings.TrimSpace(line)
			if line == "" {
				return
			}
			var entry struct {
				CIDR string `json:"cidr"`
				Type string `json:"type"`
			}
			switch {
			case json.Unmarshal([]byte(line), &entry) != nil:
				p.bad(line)
			case entry.Type == "metadata":
			case entry.CIDR == "":
				p.bad(line)
			default:
				p.addText(entry.CIDR)
			}
		})
	case FormatFeodoCSV:
		err = parseFeodo(data, &p)
	default:
		err = fmt.Errorf("unknown format %q", format)
	}
	return p, err
}

// addText adds an address or a prefix; a prefix with host bits set is
// taken as the network it names.
func (p *parsed) addText(s string) {
	if strings.IndexByte(s, '/') >= 0 {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			p.bad(s)
			return
		}
		if pfx.Addr().Is4In6() && pfx.Bits() >= 96 {
			pfx = netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits()-96)
		}
		p.prefixes = append(p.prefixes, pfx.Masked())
		return
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		p.bad(s)
		return
	}
	a = a.Unmap().WithZone("")
	p.prefixes = append(p.prefixes, netip.PrefixFrom(a, a.BitLen()))
}

func eachLine(data []byte, fn func(string)) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fn(sc.Text())
	}
	return sc.Err()
}

// parseFeodo reads the CSV after the '#' header. The column is found by
// its name when the header row is there (it is, quoted, after the comment
// block); otherwise dst_ip is the second column.
func parseFeodo(data []byte, p *parsed) error {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comment = '#'
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	column := 1
	for {
		record, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		var parseErr *csv.ParseError
		if errors.As(err, &parseErr) {
			p.bad(parseErr.Error())
			continue
		}
		if err != nil {
			return err
		}
		if i := indexOf(record, "dst_ip"); i >= 0 {
			column = i
			continue
		}
		if column >= len(record) {
			p.bad(strings.Join(record, ","))
			continue
		}
		p.addText(strings.TrimSpace(record[column]))
	}
}

func indexOf(fields []string, want string) int {
	for i, f := range fields {
		if strings.TrimSpace(strings.TrimLeft(f, "# ")) == want {
			return i
		}
	}
	return -1
}
