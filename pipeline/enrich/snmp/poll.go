package snmp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gosnmp/gosnmp"
)

// The objects polled (IF-MIB, SNMPv2-MIB).
const (
	oidSysName     = ".1.3.6.1.2.1.1.5.0"
	oidIfDescr     = ".1.3.6.1.2.1.2.2.1.2"
	oidIfSpeed     = ".1.3.6.1.2.1.2.2.1.5"     // bit/s, saturates at 2^32-1
	oidIfName      = ".1.3.6.1.2.1.31.1.1.1.1"  // ifXTable
	oidIfHighSpeed = ".1.3.6.1.2.1.31.1.1.1.15" // Mbit/s
	oidIfAlias     = ".1.3.6.1.2.1.31.1.1.1.18" // the operator's description
)

// poll asks the exporter's agent for its sysName and walks its interface
// tables with GETBULK.
func (p *Poller) poll(ctx context.Context, e *exporter) (*snapshot, error) {
	g := e.cred.client(e.addr, p.cfg)
	g.Context = ctx
	if err := g.Connect(); err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer g.Conn.Close()

	polledAt := time.Now()
	res, err := g.Get([]string{oidSysName})
	if err != nil {
		return nil, fmt.Errorf("get sysName: %w", err)
	}
	var sysName string
	for _, v := range res.Variables {
		if v.Type == gosnmp.OctetString {
			sysName = text(v.Value)
		}
	}
	interfaces := map[uint32]Interface{}

	var highSpeed, speed map[uint32]uint64
	update := func(idx uint32, set func(*Interface)) {
		iface, known := interfaces[idx]
		if !known && len(interfaces) >= maxInterfaces {
			return
		}
		set(&iface)
		interfaces[idx] = iface
	}
	walks := []struct {
		name, oid string
		row       func(idx uint32, v gosnmp.SnmpPDU)
	}{
		{"ifName", oidIfName, func(idx uint32, v gosnmp.SnmpPDU) {
			update(idx, func(i *Interface) { i.Name = text(v.Value) })
		}},
		{"ifAlias", oidIfAlias, func(idx uint32, v gosnmp.SnmpPDU) {
			update(idx, func(i *Interface) { i.Description = text(v.Value) })
		}},
		{"ifHighSpeed", oidIfHighSpeed, func(idx uint32, v gosnmp.SnmpPDU) {
			if n, ok := unsigned(v.Value); ok {
				if highSpeed == nil {
					highSpeed = map[uint32]uint64{}
				}
				highSpeed[idx] = n
			}
		}},
		{"ifSpeed", oidIfSpeed, func(idx uint32, v gosnmp.SnmpPDU) {
			if n, ok := unsigned(v.Value); ok {
				if speed == nil {
					speed = map[uint32]uint64{}
				}
				speed[idx] = n
			}
		}},
	}
	for _, w := range walks {
		if err := walk(g, w.oid, w.row); err != nil {
			return nil, fmt.Errorf("walk %s: %w", w.name, err)
		}
	}
	named := false
	for _, iface := range interfaces {
		if iface.Name != "" {
			named = true
			break
		}
	}
	if !named {
		// An agent without ifXTable (old or minimal ones): ifDescr is the
		// best name it has.
		err := walk(g, oidIfDescr, func(idx uint32, v gosnmp.SnmpPDU) {
			update(idx, func(i *Interface) { i.Name = text(v.Value) })
		})
		if err != nil {
			return nil, fmt.Errorf("walk ifDescr: %w", err)
		}
	}
	// ifHighSpeed (Mbit/s) when the agent has it and says more than 0;
	// otherwise ifSpeed, which saturates at 4.29 Gbit/s.
	for idx, mbps := range highSpeed {
		if mbps > 0 {
			update(idx, func(i *Interface) { i.Speed = mbps * 1_000_000 })
		}
	}
	for idx, bps := range speed {
		if highSpeed[idx] == 0 && bps > 0 {
			update(idx, func(i *Interface) { i.Speed = bps })
		}
	}
	return newSnapshot(sysName, polledAt, interfaces), nil
}

// walk calls row for each object of the column rooted at oid, with its
// ifIndex; rows whose index is not one integer are skipped.
func walk(g *gosnmp.GoSNMP, oid string, row func(idx uint32, v gosnmp.SnmpPDU)) error {
	prefix := oid + "."
	return g.BulkWalk(oid, func(v gosnmp.SnmpPDU) error {
		suffix, ok := strings.CutPrefix(v.Name, prefix)
		if !ok {
			return nil
		}
		idx, err := strconv.ParseUint(suffix, 10, 32)
		if err != nil || idx == 0 {
			return nil
		}
		switch v.Type {
		case gosnmp.NoSuchObject, gosnmp.NoSuchInstance, gosnmp.EndOfMibView, gosnmp.Null:
			return nil
		}
		row(uint32(idx), v)
		return nil
	})
}

// text turns an OCTET STRING into a clean string: agents pad with NULs and
// ifAlias is free text in no declared encoding.
func text(v any) string {
	b, ok := v.([]byte)
	if !ok {
		return ""
	}
	s := strings.TrimRight(string(b), "\x00")
	return strings.ToValidUTF8(strings.TrimSpace(s), "\uFFFD")
}

func unsigned(v any) (uint64, bool) {
	switch n := v.(type) {
	case uint:
		return uint64(n), true
	case uint32:
		return uint64(n), true
	case uint64:
		return n, true
	case int:
		if n >= 0 {
			return uint64(n), true
		}
	}
	return 0, false
}

// classify names why a poll failed, for the polls_total label.
func classify(err error) string {
	var netErr net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return resultRefused
	case errors.Is(err, gosnmp.ErrUnknownUsername), errors.Is(err, gosnmp.ErrWrongDigest),
		errors.Is(err, gosnmp.ErrDecryption), errors.Is(err, gosnmp.ErrUnknownSecurityLevel),
		errors.Is(err, gosnmp.ErrNotInTimeWindow), errors.Is(err, gosnmp.ErrUnknownEngineID),
		// gosnmp checks the agent's report (wrong digest, unknown user)
		// against our own security level first and says only this, with no
		// sentinel error to match.
		strings.Contains(err.Error(), "not authentic"):
		return resultAuth
	case errors.Is(err, gosnmp.ErrMaxRetriesExceeded), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return resultTimeout
	}
	return resultError
}

// hint says in the log what a failure usually means.
func hint(result string) string {
	switch result {
	case resultTimeout:
		return "no answer: the agent is down or unreachable, a firewall drops SNMP, or the SNMPv2c community is wrong"
	case resultRefused:
		return "nothing listens on the SNMP port (ICMP port unreachable)"
	case resultAuth:
		return "the agent refused the SNMPv3 credentials: check user, protocols and passphrases"
	case resultEmpty:
		return "the agent answered with no interface and no sysName: check the view it grants"
	}
	return "unexpected error"
}
