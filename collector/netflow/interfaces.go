package netflow

import (
	"bytes"
	"strings"

	"github.com/netsampler/goflow2/v2/decoders/netflow"

	"sluice/collector/templates"
	"sluice/pipeline/record"
)

// IPFIX information elements of interface names (RFC 7012; NetFlow v9 uses
// the same numbers).
const (
	fieldIngressInterface     = 10
	fieldEgressInterface      = 14
	fieldInterfaceName        = 82
	fieldInterfaceDescription = 83
)

// learnInterface stores the names an options data record gives an
// interface: interfaceName (IE 82) and interfaceDescription (IE 83) beside
// an ingressInterface (IE 10) or egressInterface (IE 14), as scope or as
// option (Cisco sends them as options, beside a system scope). The names
// are copied (and allocated) only when they change.
func learnInterface(ctx *packetContext, rec *netflow.OptionsDataRecord) {
	var (
		ifIndex           uint64
		haveIndex         bool
		name, description []byte
	)
	for typ, value := range optionFields(rec) {
		switch typ {
		case fieldIngressInterface:
			ifIndex, haveIndex = beUint(value), true
		case fieldEgressInterface:
			if !haveIndex {
				ifIndex, haveIndex = beUint(value), true
			}
		case fieldInterfaceName:
			name = trimString(value)
		case fieldInterfaceDescription:
			description = trimString(value)
		}
	}
	if !haveIndex || ifIndex > 0xffffffff || (len(name) == 0 && len(description) == 0) {
		return
	}
	key := templates.InterfaceKey{Version: ctx.version, ObservationDomain: ctx.obsDomain, IfIndex: uint32(ifIndex)}
	if old, ok := ctx.state.Interface(key); ok && old.Name == string(name) && old.Description == string(description) {
		return // the periodic refresh
	}
	// The names travel as protobuf strings, which must be UTF-8; an
	// exporter's bytes are not always.
	ctx.state.SetInterface(key, templates.InterfaceNames{
		Name:        strings.ToValidUTF8(string(name), "\uFFFD"),
		Description: strings.ToValidUTF8(string(description), "\uFFFD"),
	})
}

// trimString cuts a fixed-length string field at its first NUL (exporters
// pad names to the field's length with zeros) and drops trailing spaces.
func trimString(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return bytes.TrimRight(b, " ")
}

// nameInterfaces sets the record's interface names and descriptions from
// what the exporter's options data announced for its observation domain
// (empty when unknown). Exporters that announce none cost a boolean test.
func (ctx *packetContext) nameInterfaces(f *record.Flow) {
	if !ctx.interfaces {
		return
	}
	in, _ := ctx.state.Interface(templates.InterfaceKey{Version: ctx.version, ObservationDomain: ctx.obsDomain, IfIndex: f.InIfIndex})
	out, _ := ctx.state.Interface(templates.InterfaceKey{Version: ctx.version, ObservationDomain: ctx.obsDomain, IfIndex: f.OutIfIndex})
	f.InIfName, f.InIfDescription = in.Name, in.Description
	f.OutIfName, f.OutIfDescription = out.Name, out.Description
}
