package demo

import (
	"encoding/binary"
	"time"
)

// Interface names as NetFlow v9 and IPFIX exporters announce them: options data records with
// an interface's ifIndex, interfaceName (IE 82) and interfaceDescription (IE 83), in the shape
// of Cisco's "option interface-table".
const (
	ieInterfaceName        = 82 // v9 IF_NAME
	ieInterfaceDescription = 83 // v9 IF_DESC
	// NetFlow v9 options template FlowSet ID (RFC 3954 section 6.1) and scope type System
	// (section 6.2); IPFIX options template set ID (RFC 7011 section 3.3.2).
	netflow9OptionsTemplateSetID = 1
	netflow9ScopeSystem          = 1
	ipfixOptionsTemplateSetID    = 3
	templateIDInterfaces         = 258
	// Fixed lengths of the name fields, padded with NULs.
	interfaceNameLength        = 16
	interfaceDescriptionLength = 32
	// interfaceRecordLength is one options data record: the ifIndex and both names, plus, in
	// NetFlow v9, the 4-byte System scope (the exporter's IPv4 address).
	interfaceRecordLength = 4 + interfaceNameLength + interfaceDescriptionLength
)

// InterfaceName is one interface's names, as an options data record announces them.
type InterfaceName struct {
	IfIndex     uint32
	Name        string // at most 16 bytes are sent
	Description string // at most 32 bytes are sent
}

// Lengths of the options template records.
const (
	// NetFlow v9: template ID, scope length, option length, one scope and three option fields.
	netflow9OptionsTemplateLength = 6 + 4 + 3*4
	// IPFIX: template ID, field count, scope field count, three field specifiers.
	ipfixOptionsTemplateLength = 6 + 3*4
)

// AppendNetFlow9Options appends a NetFlow v9 export packet announcing interface names: the
// options template (scope System, options INPUT_SNMP, IF_NAME, IF_DESC) when template is
// set, then one options data record per name, scoped to system (the header's source ID
// names the exporter's observation domain).
func AppendNetFlow9Options(dst []byte, h NetFlow9Header, template bool, names []InterfaceName, system [4]byte) []byte {
	be := binary.BigEndian
	export := h.ExportTime.Truncate(time.Second)
	start := len(dst)
	dst = be.AppendUint16(dst, netflow9Version)
	dst = be.AppendUint16(dst, 0) // count, filled in below
	dst = be.AppendUint32(dst, uptimeMillis(h.Boot, export))
	dst = be.AppendUint32(dst, uint32(export.Unix()))
	dst = be.AppendUint32(dst, h.Sequence)
	dst = be.AppendUint32(dst, h.SourceID)
	count := 0
	if template {
		set := len(dst)
		dst = be.AppendUint16(dst, netflow9OptionsTemplateSetID)
		dst = be.AppendUint16(dst, 0)
		dst = be.AppendUint16(dst, templateIDInterfaces)
		dst = be.AppendUint16(dst, 4)  // scope length: one field specifier
		dst = be.AppendUint16(dst, 12) // option length: three field specifiers
		dst = appendFieldSpecifier(dst, netflow9ScopeSystem, 4)
		dst = appendInterfaceFieldSpecifiers(dst)
		dst = closeSet(dst, set, 4)
		count++
	}
	if len(names) > 0 {
		set := len(dst)
		dst = be.AppendUint16(dst, templateIDInterfaces)
		dst = be.AppendUint16(dst, 0)
		for i := range names {
			dst = append(dst, system[:]...)
			dst = appendInterfaceName(dst, &names[i])
			count++
		}
		dst = closeSet(dst, set, 4)
	}
	be.PutUint16(dst[start+2:], uint16(count))
	return dst
}

// AppendIPFIXOptions appends an IPFIX message announcing interface names: the options template
// (scope ingressInterface; options interfaceName and interfaceDescription) when template is
// set, then one options data record per name.
func AppendIPFIXOptions(dst []byte, h IPFIXHeader, template bool, names []InterfaceName) []byte {
	be := binary.BigEndian
	start := len(dst)
	dst = be.AppendUint16(dst, ipfixVersion)
	dst = be.AppendUint16(dst, 0) // message length, filled in below
	dst = be.AppendUint32(dst, uint32(h.ExportTime.Unix()))
	dst = be.AppendUint32(dst, h.Sequence)
	dst = be.AppendUint32(dst, h.ObservationDomain)
	if template {
		set := len(dst)
		dst = be.AppendUint16(dst, ipfixOptionsTemplateSetID)
		dst = be.AppendUint16(dst, 0)
		dst = be.AppendUint16(dst, templateIDInterfaces)
		dst = be.AppendUint16(dst, 3) // field count
		dst = be.AppendUint16(dst, 1) // scope field count: ingressInterface
		dst = appendInterfaceFieldSpecifiers(dst)
		dst = closeSet(dst, set, 1)
	}
	if len(names) > 0 {
		set := len(dst)
		dst = be.AppendUint16(dst, templateIDInterfaces)
		dst = be.AppendUint16(dst, 0)
		for i := range names {
			dst = appendInterfaceName(dst, &names[i])
		}
		dst = closeSet(dst, set, 1)
	}
	be.PutUint16(dst[start+2:], uint16(len(dst)-start))
	return dst
}

func appendFieldSpecifier(dst []byte, id, length uint16) []byte {
	dst = binary.BigEndian.AppendUint16(dst, id)
	return binary.BigEndian.AppendUint16(dst, length)
}

func appendInterfaceFieldSpecifiers(dst []byte) []byte {
	dst = appendFieldSpecifier(dst, ieIngressInterface, 4)
	dst = appendFieldSpecifier(dst, ieInterfaceName, interfaceNameLength)
	return appendFieldSpecifier(dst, ieInterfaceDescription, interfaceDescriptionLength)
}

func appendInterfaceName(dst []byte, n *InterfaceName) []byte {
	dst = binary.BigEndian.AppendUint32(dst, n.IfIndex)
	dst = appendPadded(dst, n.Name, interfaceNameLength)
	return appendPadded(dst, n.Description, interfaceDescriptionLength)
}

// appendPadded appends s cut or padded with NULs to n bytes.
func appendPadded(dst []byte, s string, n int) []byte {
	if len(s) > n {
		s = s[:n]
	}
	dst = append(dst, s...)
	for range n - len(s) {
		dst = append(dst, 0)
	}
	return dst
}

// optionsLength is the length of the packet AppendNetFlow9Options or AppendIPFIXOptions writes
// for n names.
func optionsLength(protocol string, template bool, n int) int {
	if protocol == NetFlow9 {
		length := netflow9HeaderLength
		if template {
			length += padded(setHeaderLength+netflow9OptionsTemplateLength, 4)
		}
		if n > 0 {
			length += padded(setHeaderLength+n*(4+interfaceRecordLength), 4)
		}
		return length
	}
	length := ipfixHeaderLength
	if template {
		length += setHeaderLength + ipfixOptionsTemplateLength
	}
	if n > 0 {
		length += setHeaderLength + n*interfaceRecordLength
	}
	return length
}
