//go:build ignore

// gen_dictionaries writes data/protocols.tsv and data/services.tsv from the
// IANA-derived lists that Debian's netbase package installs
// (/etc/protocols, /etc/services): `go generate ./storage/migrate`. The
// files are committed; a collector never reads /etc at run time.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

func main() {
	if err := protocols(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := services(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func lines(path string, each func(fields []string, comment string) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, comment, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if err := each(fields, strings.TrimSpace(comment)); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return sc.Err()
}

// protocols: "name number ALIAS... # description".
func protocols() error {
	var rows []string
	seen := map[int]int{} // number → row: a later line wins (0: HOPOPT, not the "ip" pseudo-entry)
	err := lines("/etc/protocols", func(f []string, comment string) error {
		n, err := strconv.Atoi(f[1])
		if err != nil {
			return fmt.Errorf("bad protocol number %q", f[1])
		}
		if n > 255 {
			return nil // not an IP protocol number (netbase lists MPTCP as 262)
		}
		name := f[0]
		if len(f) > 2 {
			name = f[2] // the alias is the usual upper-case name (TCP, UDP)
		}
		row := fmt.Sprintf("%d\t%s\t%s", n, name, comment)
		if i, ok := seen[n]; ok {
			rows[i] = row
		} else {
			seen[n] = len(rows)
			rows = append(rows, row)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return write("data/protocols.tsv", rows)
}

// services: "name port/proto ALIAS... # comment"; tcp and udp only.
func services() error {
	numbers := map[string]int{"tcp": 6, "udp": 17, "sctp": 132}
	var rows []string
	seen := map[[2]int]bool{} // the first name of a port is its usual one
	err := lines("/etc/services", func(f []string, _ string) error {
		port, proto, ok := strings.Cut(f[1], "/")
		if !ok {
			return fmt.Errorf("bad service %q", f[1])
		}
		p, err := strconv.Atoi(port)
		if err != nil || p > 65535 {
			return fmt.Errorf("bad port %q", port)
		}
		n, ok := numbers[proto]
		if !ok {
			return nil
		}
		if !seen[[2]int{n, p}] {
			seen[[2]int{n, p}] = true
			rows = append(rows, fmt.Sprintf("%d\t%d\t%s", n, p, f[0]))
		}
		return nil
	})
	if err != nil {
		return err
	}
	return write("data/services.tsv", rows)
}

func write(path string, rows []string) error {
	return os.WriteFile(path, []byte(strings.Join(rows, "\n")+"\n"), 0o644)
}
