//go:build ignore

// gen_reference writes data/protocols.tsv and data/services.tsv from the
// IANA-derived lists that Debian's netbase package installs
// (/etc/protocols, /etc/services): `go generate ./pipeline/reference`. The
// files are committed; a collector never reads /etc at run time.
//
// With -asn, it also writes data/asn_names.tsv.gz, AS number → name, from
// the CSV files of the npm package @ip-location-db/asn (CC BY 4.0:
// RouteViews, DB-IP, NRO; see data/ASN_NAMES_PROVENANCE):
//
//	npm pack @ip-location-db/asn && tar xzf ip-location-db-asn-*.tgz
//	go run gen_reference.go -asn package/asn-ipv4.csv,package/asn-ipv6.csv
package main

import (
	"bufio"
	"cmp"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

func main() {
	asn := flag.String("asn", "", "comma-separated CSV files of @ip-location-db/asn (start,end,asn,organization) to write data/asn_names.tsv.gz from")
	flag.Parse()
	if err := protocols(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := services(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *asn != "" {
		if err := asnNames(strings.Split(*asn, ",")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

// asnNames: "start,end,asn,organization" per address range. An AS has a
// row per range; its name is the one most of its ranges give (ties: the
// smallest), so a stray spelling does not win.
func asnNames(paths []string) error {
	names := map[uint64]map[string]int{}
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		r := csv.NewReader(bufio.NewReader(f))
		r.FieldsPerRecord = 4
		for {
			rec, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				f.Close()
				return fmt.Errorf("%s: %w", path, err)
			}
			n, err := strconv.ParseUint(rec[2], 10, 32)
			if err != nil {
				f.Close()
				return fmt.Errorf("%s: bad AS number %q", path, rec[2])
			}
			// Tabs and newlines would break the TSV; backslashes its escaping.
			name := strings.Join(strings.Fields(strings.ReplaceAll(rec[3], "\\", "/")), " ")
			if name == "" || name == "AS"+rec[2] || !publicAS(n) {
				continue // no name, or an AS no one may name publicly
			}
			if names[n] == nil {
				names[n] = map[string]int{}
			}
			names[n][name]++
		}
		f.Close()
	}
	numbers := make([]uint64, 0, len(names))
	for n := range names {
		numbers = append(numbers, n)
	}
	slices.Sort(numbers)
	out, err := os.Create("data/asn_names.tsv.gz")
	if err != nil {
		return err
	}
	zw, err := gzip.NewWriterLevel(out, gzip.BestCompression)
	if err != nil {
		return err
	}
	for _, n := range numbers {
		var best string
		for name, count := range names[n] {
			if c := cmp.Compare(count, names[n][best]); c > 0 || (c == 0 && name < best) || best == "" {
				best = name
			}
		}
		fmt.Fprintf(zw, "%d\t%s\n", n, best)
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return out.Close()
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

// publicAS excludes the AS numbers reserved by RFC 7300, RFC 6793 (AS_TRANS),
// RFC 5398 (documentation) and RFC 6996 (private use): names the ranges
// give them are leaks of someone's private numbering.
func publicAS(n uint64) bool {
	switch {
	case n == 0, n == 23456, n >= 64496 && n <= 131071, n >= 4200000000:
		return false
	}
	return true
}

func write(path string, rows []string) error {
	return os.WriteFile(path, []byte(strings.Join(rows, "\n")+"\n"), 0o644)
}
