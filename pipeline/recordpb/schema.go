package recordpb

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"sluice/pipeline/record"
)

// ProtoSchema returns the text of flow.proto, the published protobuf schema of
// the canonical record, generated from record.Columns. The checked-in
// flow.proto must equal it (TestProtoSchemaGolden); regenerate with
// `go generate ./pipeline/recordpb`.
func ProtoSchema() string {
	var b strings.Builder
	b.WriteString(`// Code generated from sluice/pipeline/record.Columns by recordpb.ProtoSchema. DO NOT EDIT.
//
// The canonical flow record of sluice, as published on Kafka.
//
// Framing: each Kafka message value is one FlowBatch, the flows of one
// exporter (the message key is that exporter's 16-byte address). A batch
// amortises Kafka's per-message overhead over many small records.
//
// Versioning: this is schema ` + SchemaVersion + `. The topic name ends with
// the version (default "` + DefaultTopic + `"), and every message
// carries the header "` + SchemaHeader + `: ` + SchemaVersion + `". Within a version,
// fields are only added: a field number is fixed forever and a removed
// field's number is reserved, so an older consumer skips fields it does not
// know and a newer one reads zero for fields an older producer did not send.
// A change that cannot be made that way is a new version, on a new topic.
//
// Values: as in proto3, a zero value is not sent (a missing field is zero).
// Addresses are 16 bytes, IPv6 or IPv4 mapped (::ffff:a.b.c.d); the
// unspecified address :: is not sent. Integer fields narrower than their
// protobuf type (UInt8, UInt16) never carry a value that does not fit them.
syntax = "proto3";

package sluice.record.v1;

option go_package = "sluice/pipeline/recordpb/flowpb";

// FlowBatch is the value of one Kafka message.
message FlowBatch {
  repeated Flow flows = 1;
}

// FlowType says which export protocol produced a record. Its numbers are
// those of ClickHouse's FlowType Enum8.
enum FlowType {
`)
	for _, v := range flowTypes() {
		fmt.Fprintf(&b, "  %s = %d;\n", flowTypeEnumName(v), v)
	}
	b.WriteString("}\n")
	writeColumnEnums(&b)
	b.WriteString("\n// Flow is one canonical flow record; field names are the ClickHouse column names.\nmessage Flow {\n")
	if len(record.ReservedFields) > 0 {
		numbers := make([]string, len(record.ReservedFields))
		for i, n := range record.ReservedFields {
			numbers[i] = fmt.Sprint(n)
		}
		fmt.Fprintf(&b, "  // Numbers of removed fields: never reuse them.\n  reserved %s;\n\n", strings.Join(numbers, ", "))
	}
	for i, c := range record.Columns {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "  // %s%s.\n", c.Doc, unitNote(c.Kind))
		fmt.Fprintf(&b, "  %s %s = %d;\n", protoType(c), c.Name, c.Field)
	}
	b.WriteString("}\n")
	return b.String()
}

// protoType is the protobuf scalar type a column kind is published as. Every
// integer kind but UInt64 fits uint32, which costs nothing on the wire (all
// are varints) and tells third parties the range.
func protoType(c record.Column) string {
	switch c.Kind {
	case record.KindUInt8, record.KindUInt16, record.KindUInt32:
		return "uint32"
	case record.KindUInt64:
		return "uint64"
	case record.KindEnum8:
		return c.Enum
	case record.KindIPv6, record.KindCommunityID:
		return "bytes"
	case record.KindString:
		return "string"
	case record.KindFeedSet:
		return "repeated string"
	case record.KindDateTime, record.KindDateTime64ms:
		return "int64"
	}
	panic(fmt.Sprintf("recordpb: column kind %d has no protobuf type", c.Kind))
}

// unitNote adds to a column's doc what only the wire encoding knows: the unit
// of a time (the Go value, not the ClickHouse one) and the address size.
func unitNote(k record.Kind) string {
	switch k {
	case record.KindDateTime:
		return ", Unix nanoseconds"
	case record.KindDateTime64ms:
		return ", Unix milliseconds"
	case record.KindIPv6:
		return ", 16 bytes"
	case record.KindCommunityID:
		return ", the 20-byte SHA-1 (the text form is \"1:\" and its base64)"
	case record.KindString:
		return fmt.Sprintf(", at most %d bytes", MaxStringLen)
	}
	return ""
}

// enumValue is one value of a ClickHouse Enum8 type.
var enumValue = regexp.MustCompile(`'([^']*)' = (-?\d+)`)

// writeColumnEnums writes a protobuf enum for each Enum8 column type other
// than FlowType (written above with its own comment), in column order, with
// the values of the column's ClickHouse type.
func writeColumnEnums(b *strings.Builder) {
	done := map[string]bool{"FlowType": true}
	for _, c := range record.Columns {
		if c.Kind != record.KindEnum8 || done[c.Enum] {
			continue
		}
		done[c.Enum] = true
		fmt.Fprintf(b, "\n// %s holds the values of ClickHouse's %s Enum8 column.\nenum %s {\n", c.Enum, c.Name, c.Enum)
		prefix := upperSnake(c.Enum) + "_"
		for _, m := range enumValue.FindAllStringSubmatch(c.Type, -1) {
			fmt.Fprintf(b, "  %s%s = %s;\n", prefix, strings.ToUpper(m[1]), m[2])
		}
		b.WriteString("}\n")
	}
}

// upperSnake turns an enum's CamelCase name into the UPPER_SNAKE prefix the
// protobuf style gives its values.
func upperSnake(name string) string {
	var b strings.Builder
	for i, r := range name {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// flowTypes lists the defined record.FlowType values: the ones String names,
// plus Unknown (0), so the enum follows the record package without a second
// list to keep in step.
func flowTypes() []record.FlowType {
	types := []record.FlowType{record.FlowTypeUnknown}
	for v := 1; v <= 255; v++ {
		if t := record.FlowType(v); t.String() != record.FlowTypeUnknown.String() {
			types = append(types, t)
		}
	}
	return types
}

// flowTypeEnumName follows the protobuf style for enum values: upper case,
// prefixed with the enum's name, because values share the package's scope.
func flowTypeEnumName(t record.FlowType) string {
	return "FLOW_TYPE_" + strings.ToUpper(t.String())
}
