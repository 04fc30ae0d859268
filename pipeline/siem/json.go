package siem

import (
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"

	"sluice/pipeline/record"
)

// JSON writes one JSON object into a reused buffer without allocating: the
// formats' per-record path. It tracks only whether a separator is due, so
// the caller opens and closes objects and arrays in order.
type JSON struct {
	B     []byte
	comma bool
}

// Reset starts a document at the end of dst.
func (j *JSON) Reset(dst []byte) { j.B, j.comma = dst, false }

func (j *JSON) sep() {
	if j.comma {
		j.B = append(j.B, ',')
	}
	j.comma = true
}

func (j *JSON) key(k string) {
	j.sep()
	j.B = append(j.B, '"')
	j.B = append(j.B, k...) // keys are constants: nothing to escape
	j.B = append(j.B, '"', ':')
}

// Open starts an object, under key k when k is not empty.
func (j *JSON) Open(k string) {
	if k == "" {
		j.sep()
	} else {
		j.key(k)
	}
	j.B = append(j.B, '{')
	j.comma = false
}

// Close ends an object.
func (j *JSON) Close() { j.B = append(j.B, '}'); j.comma = true }

// OpenArray starts an array under key k.
func (j *JSON) OpenArray(k string) { j.key(k); j.B = append(j.B, '['); j.comma = false }

// CloseArray ends an array.
func (j *JSON) CloseArray() { j.B = append(j.B, ']'); j.comma = true }

// String writes k: v.
func (j *JSON) String(k, v string) { j.key(k); j.B = AppendString(j.B, v) }

// StringNonEmpty writes k: v unless v is empty.
func (j *JSON) StringNonEmpty(k, v string) {
	if v != "" {
		j.String(k, v)
	}
}

// Elem writes a string element of an array.
func (j *JSON) Elem(v string) { j.sep(); j.B = AppendString(j.B, v) }

// ElemAddr writes an address element of an array.
func (j *JSON) ElemAddr(a record.Addr) {
	j.sep()
	j.B = append(j.B, '"')
	j.B = a.Netip().AppendTo(j.B)
	j.B = append(j.B, '"')
}

// Uint writes k: v.
func (j *JSON) Uint(k string, v uint64) { j.key(k); j.B = strconv.AppendUint(j.B, v, 10) }

// Int writes k: v.
func (j *JSON) Int(k string, v int64) { j.key(k); j.B = strconv.AppendInt(j.B, v, 10) }

// Bool writes k: v.
func (j *JSON) Bool(k string, v bool) { j.key(k); j.B = strconv.AppendBool(j.B, v) }

// Raw writes k: v, v being JSON already.
func (j *JSON) Raw(k string, v []byte) { j.key(k); j.B = append(j.B, v...) }

// Addr writes k: the address as text (IPv4 unmapped).
func (j *JSON) Addr(k string, a record.Addr) {
	j.key(k)
	j.B = append(j.B, '"')
	j.B = a.Netip().AppendTo(j.B)
	j.B = append(j.B, '"')
}

// Time writes k: t as RFC 3339 with milliseconds, in UTC.
func (j *JSON) Time(k string, t time.Time) {
	j.key(k)
	j.B = append(j.B, '"')
	j.B = t.UTC().AppendFormat(j.B, "2006-01-02T15:04:05.000Z07:00")
	j.B = append(j.B, '"')
}

// MAC writes k: a 48-bit MAC address in the low bits of v, as
// dash-separated upper-case hex (ECS's form; OCSF accepts it too).
func (j *JSON) MAC(k string, v uint64, sepChar byte) {
	const hex = "0123456789ABCDEF"
	j.key(k)
	j.B = append(j.B, '"')
	for i := 5; i >= 0; i-- {
		b := byte(v >> (8 * i))
		j.B = append(j.B, hex[b>>4], hex[b&15])
		if i > 0 {
			j.B = append(j.B, sepChar)
		}
	}
	j.B = append(j.B, '"')
}

// AppendString appends s as a JSON string, escaping what JSON requires
// and replacing invalid UTF-8 with U+FFFD.
func AppendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\ufffd"...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// FlowEnd is a flow's own time: its end, else its start, else when it was
// received (sFlow carries no flow times).
func FlowEnd(f *record.Flow) time.Time {
	switch {
	case f.TimeFlowEnd != 0:
		return time.UnixMilli(f.TimeFlowEnd)
	case f.TimeFlowStart != 0:
		return time.UnixMilli(f.TimeFlowStart)
	}
	return time.Unix(0, f.TimeReceived)
}

// FlowStart is a flow's first packet, else FlowEnd; never after FlowEnd
// (an exporter's clock can say otherwise), so durations are not negative.
func FlowStart(f *record.Flow) time.Time {
	end := FlowEnd(f)
	if f.TimeFlowStart != 0 && f.TimeFlowStart <= end.UnixMilli() {
		return time.UnixMilli(f.TimeFlowStart)
	}
	return end
}

// IsV4 reports whether an address is IPv4 (mapped).
func IsV4(a record.Addr) bool { return netip.AddrFrom16(a).Is4In6() }

// ProtoName is the IANA keyword of common IP protocols, lower case as ECS
// wants network.transport; "" for others.
func ProtoName(p uint8) string {
	switch p {
	case 1:
		return "icmp"
	case 2:
		return "igmp"
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 47:
		return "gre"
	case 50:
		return "esp"
	case 51:
		return "ah"
	case 58:
		return "ipv6-icmp"
	case 89:
		return "ospf"
	case 132:
		return "sctp"
	}
	return ""
}

// Quoted writes k: v as a JSON string (keyword fields that hold numbers).
func (j *JSON) Quoted(k string, v uint64) {
	j.key(k)
	j.B = append(j.B, '"')
	j.B = strconv.AppendUint(j.B, v, 10)
	j.B = append(j.B, '"')
}

// CommunityID writes k: the Community ID's text form, unless it is unset.
func (j *JSON) CommunityID(k string, c record.CommunityID) {
	if c.IsZero() {
		return
	}
	j.key(k)
	j.B = append(j.B, '"')
	j.B = c.AppendText(j.B)
	j.B = append(j.B, '"')
}
