package netflow

import (
	"encoding/binary"
	"errors"
	"fmt"
	"iter"

	"github.com/netsampler/goflow2/v2/decoders/netflow"

	"sluice/collector/decodeerr"
	"sluice/collector/templates"
	"sluice/pipeline/record"
)

const (
	v9HeaderLen    = 20
	ipfixHeaderLen = 16
	setHeaderLen   = 4
)

// packetContext is what a record's extraction needs from its datagram.
type packetContext struct {
	version       uint16
	obsDomain     uint32
	exportMillis  int64  // header export time, Unix milliseconds
	uptimeMillis  uint32 // v9 only: sysUpTime at export
	receivedNanos int64
	exporter      record.Addr
	state         *templates.Handle
	sampling      uint64 // the exporter's configured override, 0 if none
	interfaces    bool   // the exporter announced interface names: look them up
}

// decodeTemplated decodes a NetFlow v9 or IPFIX datagram.
//
// Before goflow2 sees the datagram, its sets are walked (checkSets) so that
// a datagram cut short or with a corrupt set length is decoded up to its
// last complete set (or, for a data set cut short, its last complete
// record) and then reported, instead of goflow2 silently decoding
// a partial set, and so that a template record claiming more fields than
// its set holds never reaches goflow2, which allocates for the claimed
// count before reading.
//
// The header is read here, and the sets are walked here too, bounded by
// what checkSets found: every set up to the end of the datagram (v9) or
// message (IPFIX) is decoded, whatever the v9 header's count says. RFC 3954 makes that count the number of records,
// which is at least the number of sets; a count below it (0 from some
// exporters) is counted in Stats.HeaderCountMismatch, where goflow2's own
// header decoding would have dropped the sets past the count.
//
// goflow2 decodes template, options template and options data sets; data
// sets are walked by walkDataSet, which allocates nothing per record.
// Options data sets are applied before data sets, so a sampling rate
// announced in the same datagram applies to its flows.
func (d *Decoder) decodeTemplated(s *scratch, exporter record.Addr, receivedNanos int64, payload []byte, out record.Appender, stats *Stats) error {
	sets, framingErr := checkSets(stats.Version, payload)
	switch sets.cut {
	case cutDataSet:
		stats.DataSetsCut++
	case cutOtherSet:
		stats.OtherSetsCut++
	}
	if sets.end == 0 {
		return framingErr
	}

	s.handle = d.store.Handle(exporter, receivedNanos)
	ctx := &s.ctx // pooled: a local would escape to the heap
	*ctx = packetContext{
		version:       stats.Version,
		receivedNanos: receivedNanos,
		exporter:      exporter,
		state:         &s.handle,
		sampling:      d.cfg.SamplingOverrides.Rate(exporter),
	}
	var headerLen int
	if stats.Version == 9 {
		headerLen = v9HeaderLen
		if count := int(binary.BigEndian.Uint16(payload[2:4])); count < sets.count {
			stats.HeaderCountMismatch++
		}
		ctx.uptimeMillis = binary.BigEndian.Uint32(payload[4:8])
		ctx.exportMillis = int64(binary.BigEndian.Uint32(payload[8:12])) * 1000
		ctx.obsDomain = binary.BigEndian.Uint32(payload[16:20])
	} else {
		headerLen = ipfixHeaderLen
		ctx.exportMillis = int64(binary.BigEndian.Uint32(payload[4:8])) * 1000
		ctx.obsDomain = binary.BigEndian.Uint32(payload[12:16])
	}
	// The sets are walked here: template and options template sets go to
	// goflow2, which parses them into the store; options data sets are
	// decoded by goflow2 too (they are few) and applied at once; data sets
	// are only noted, then walked against their template without
	// allocating (walkDataSet), once every options data set of the
	// datagram has been applied. goflow2 stopped at the first set it could
	// not decode; so does this walk.
	var decodeErr, corruptErr error
	s.dataSets = s.dataSets[:0]
sets:
	for pos := headerLen; pos < sets.end; {
		id := binary.BigEndian.Uint16(payload[pos:])
		// A data set cut short (sets.partial) ends at sets.end.
		set := payload[pos:min(pos+int(binary.BigEndian.Uint16(payload[pos+2:])), sets.end)]
		cut := pos+int(binary.BigEndian.Uint16(payload[pos+2:])) > sets.end
		pos += len(set)
		if id < 256 {
			fs, err := netflow.DecodeMessageCommonFlowSet(newBuffer(set), ctx.state, ctx.obsDomain, stats.Version)
			switch fs := fs.(type) {
			case netflow.TemplateFlowSet:
				stats.Templates += len(fs.Records)
			case netflow.NFv9OptionsTemplateFlowSet:
				stats.Templates += len(fs.Records)
			case netflow.IPFIXOptionsTemplateFlowSet:
				stats.Templates += len(fs.Records)
			}
			if err != nil {
				decodeErr = err
				break sets
			}
			continue
		}
		// Marks the template as decoding data, which keeps it from
		// eviction when the store is full (templates/evict.go).
		template, err := ctx.state.UseTemplate(stats.Version, ctx.obsDomain, id)
		if err != nil {
			stats.MissingTemplateSets++
			continue
		}
		body := set[setHeaderLen:]
		var records []netflow.OptionsDataRecord
		switch t := template.(type) {
		case netflow.TemplateRecord:
			if cut && !cutInLastRecord(body, t.Fields, sets.overrun) {
				// The set's length is corrupt, not cut: what follows
				// its header to the end is other sets, not records.
				stats.DataSetsCut--
				stats.DataSetsCorrupt++
				corruptErr = newError(decodeerr.Malformed, fmt.Errorf("data set %d: length runs %d bytes past the end, more than its last record", id, sets.overrun))
				continue
			}
			s.dataSets = append(s.dataSets, dataSet{body: body, fields: t.Fields, cut: cut})
			continue
		case netflow.NFv9OptionsTemplateRecord:
			records, err = netflow.DecodeOptionsDataSet(stats.Version, newBuffer(body), t.Scopes, t.Options)
		case netflow.IPFIXOptionsTemplateRecord:
			records, err = netflow.DecodeOptionsDataSet(stats.Version, newBuffer(body), t.Scopes, t.Options)
		}
		for i := range records {
			learnSampling(ctx, &records[i])
			learnInterface(ctx, &records[i])
		}
		stats.OptionsRecords += len(records)
		if err != nil {
			decodeErr = err
			break
		}
	}
	var walkErr error
	ctx.interfaces = len(s.dataSets) > 0 && ctx.state.HasInterfaces()
	for i := range s.dataSets {
		if err := d.walkDataSet(ctx, &s.dataSets[i], out, &s.reverse, stats); err != nil && walkErr == nil {
			walkErr = err
		}
	}
	clear(s.dataSets) // they alias the datagram

	// The first problem found wins: a framing problem explains any goflow2
	// error that follows from it.
	switch {
	case corruptErr != nil:
		return corruptErr
	case framingErr != nil:
		return framingErr
	case decodeErr != nil:
		return classifyGoflow2(decodeErr)
	case walkErr != nil:
		return walkErr
	case stats.MissingTemplateSets > 0:
		return newError(decodeerr.TemplateNotFound, fmt.Errorf("%d data sets", stats.MissingTemplateSets))
	}
	return nil
}

// setsFound is what checkSets found: the sets in payload[:end] are whole
// and sane, and there are count of them; the last one may be a data set
// cut short (cut == cutDataSet), whose complete records can be read.
type setsFound struct {
	end     int
	count   int
	cut     setCut
	overrun int // a cut set's declared bytes past the end
}

// setCut tells which kind of set ran past the end of the datagram (or
// IPFIX message), if one did.
type setCut uint8

const (
	cutNone     setCut = iota
	cutDataSet         // kept up to the end: its complete records are decoded
	cutOtherSet        // a template or options set: dropped whole, a cut template cannot be trusted
)

// checkSets walks the set headers of a v9 or IPFIX datagram and returns how
// many leading bytes hold complete, sane sets, with an error describing
// anything beyond them. end is 0 when nothing can be decoded.
//
// Zero bytes after the last set are padding (some exporters fill datagrams
// to a fixed size) and are not an error. For IPFIX, the message length field
// bounds the sets; bytes after it are ignored. A template set with a record
// claiming more fields than the set holds ends the walk (malformed).
func checkSets(version uint16, payload []byte) (found setsFound, err error) {
	headerLen := v9HeaderLen
	if version == 10 {
		headerLen = ipfixHeaderLen
	}
	if len(payload) < headerLen {
		return found, newError(decodeerr.Truncated, fmt.Errorf("header: %d bytes", len(payload)))
	}
	limit := len(payload)
	if version == 10 {
		msgLen := int(binary.BigEndian.Uint16(payload[2:4]))
		switch {
		case msgLen < headerLen:
			return found, newError(decodeerr.Malformed, fmt.Errorf("message length %d", msgLen))
		case msgLen > len(payload):
			err = newError(decodeerr.Truncated, fmt.Errorf("message length %d, got %d bytes", msgLen, len(payload)))
		default:
			limit = msgLen
		}
	}
	pos := headerLen
	for pos < limit {
		if limit-pos < setHeaderLen {
			if err == nil && !allZero(payload[pos:limit]) {
				err = newError(decodeerr.Truncated, fmt.Errorf("set header at %d cut short", pos))
			}
			break
		}
		setID := binary.BigEndian.Uint16(payload[pos : pos+2])
		setLen := int(binary.BigEndian.Uint16(payload[pos+2 : pos+4]))
		if setLen < setHeaderLen {
			if err == nil && !allZero(payload[pos:limit]) {
				err = newError(decodeerr.Malformed, fmt.Errorf("set at %d has length %d", pos, setLen))
			}
			break
		}
		if pos+setLen > limit {
			if err == nil {
				err = newError(decodeerr.Truncated, fmt.Errorf("set at %d has length %d, %d bytes left", pos, setLen, limit-pos))
			}
			// A data set's records are independent: those wholly
			// before the end are as good as in a whole set (tshark
			// decodes them too). The cut record is left.
			found.cut = cutOtherSet
			found.overrun = pos + setLen - limit
			if setID >= 256 {
				found.cut = cutDataSet
				found.count++
				pos = limit
			}
			break
		}
		if !templatesFit(version, setID, payload[pos+setHeaderLen:pos+setLen]) {
			// Replaces a truncation error: this one is the cause.
			err = newError(decodeerr.Malformed, &templateOverrun{setID: setID, offset: pos})
			break
		}
		pos += setLen
		found.count++
	}
	if pos == headerLen && err != nil {
		return setsFound{cut: found.cut}, err
	}
	found.end = pos
	return found, err
}

// templatesFit reports whether every template record of a template or
// options template set fits in the set's body, reading the records the way
// goflow2 does (records follow one another while 4 bytes are left). Other
// sets always fit.
//
//   - v9 template (set 0): ID, count, then count fields of 4 bytes.
//   - v9 options template (1): ID, scope length, option length (in bytes,
//     4 per field), then the fields.
//   - IPFIX template (2): ID, count, then count fields of 4 bytes, 8 for an
//     enterprise field (top bit of the type).
//   - IPFIX options template (3): ID, count, scope count (at most count),
//     then the fields as for set 2.
func templatesFit(version, setID uint16, body []byte) bool {
	switch {
	case version == 9 && setID == 0:
		for len(body) >= 4 {
			need := 4 + 4*int(binary.BigEndian.Uint16(body[2:4]))
			if need > len(body) {
				return false
			}
			body = body[need:]
		}
	case version == 9 && setID == 1:
		for len(body) >= 4 {
			if len(body) < 6 {
				return false
			}
			scopes := int(binary.BigEndian.Uint16(body[2:4])) / 4
			options := int(binary.BigEndian.Uint16(body[4:6])) / 4
			need := 6 + 4*(scopes+options)
			if need > len(body) {
				return false
			}
			body = body[need:]
		}
	case version == 10 && setID == 2:
		for len(body) >= 4 {
			n, ok := ipfixFieldsLen(body[4:], int(binary.BigEndian.Uint16(body[2:4])))
			if !ok {
				return false
			}
			body = body[4+n:]
		}
	case version == 10 && setID == 3:
		for len(body) >= 4 {
			if len(body) < 6 {
				return false
			}
			count := int(binary.BigEndian.Uint16(body[2:4]))
			if scopes := int(binary.BigEndian.Uint16(body[4:6])); scopes > count {
				return false
			}
			n, ok := ipfixFieldsLen(body[6:], count)
			if !ok {
				return false
			}
			body = body[6+n:]
		}
	}
	return true
}

// ipfixFieldsLen returns the length of count IPFIX field specifiers at the
// start of b, and false when b is too short for them.
func ipfixFieldsLen(b []byte, count int) (int, bool) {
	pos := 0
	for range count {
		if len(b)-pos < 4 {
			return 0, false
		}
		enterprise := b[pos]&0x80 != 0
		pos += 4
		if enterprise {
			if len(b)-pos < 4 {
				return 0, false
			}
			pos += 4
		}
	}
	return pos, true
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// optionFields yields the type and bytes of every IANA field (no
// enterprise number) of an options data record, scopes first.
func optionFields(rec *netflow.OptionsDataRecord) iter.Seq2[uint16, []byte] {
	return func(yield func(uint16, []byte) bool) {
		for _, group := range [2][]netflow.DataField{rec.ScopesValues, rec.OptionsValues} {
			for i := range group {
				field := &group[i]
				if field.PenProvided {
					continue
				}
				if value, ok := field.Value.([]byte); ok && !yield(field.Type, value) {
					return
				}
			}
		}
	}
}

// learnSampling stores the sampling rate an options data record announces,
// keyed by its sampler (or selector) ID, 0 when it names none. Scope and
// option fields are both searched: exporters put the sampler ID in either.
func learnSampling(ctx *packetContext, rec *netflow.OptionsDataRecord) {
	var sp samplingFields
	for typ, value := range optionFields(rec) {
		sp.read(typ, value)
	}
	if rate := sp.rate(); rate != 0 {
		ctx.state.SetSamplingRate(templates.SamplerKey{Version: ctx.version, ObservationDomain: ctx.obsDomain, SamplerID: sp.samplerID}, rate)
	}
}

// dataSet is a data set noted for walkDataSet: its records' bytes (aliasing
// the datagram) and its template's fields.
type dataSet struct {
	body   []byte
	fields []netflow.Field
	cut    bool // the set ran past the end of the datagram: its last record is cut
}

// walkDataSet extracts and emits the records of a data set, reading each
// field's value in place: unlike goflow2's DecodeDataSet, which allocates a
// slice of fields and a value per field of every record, it allocates
// nothing.
//
// A variable-length field (length 65535 in the template, RFC 7011 §7)
// starts with its length: one byte, or 255 then two bytes. A value that
// runs past the end of the set makes the rest of the set unreadable: the
// set's remaining records are dropped and reported as truncated.
//
// Records follow one another until what is left of the set is padding
// (isPadding): the exporter may pad a set so that the next one starts
// aligned, and the padding is not records.
//
// Each record is decoded in place into out's next slot; a biflow's reverse
// record starts as a copy of the forward one, made in reverse before the
// forward one is committed (out may hand it on at once).
func (d *Decoder) walkDataSet(ctx *packetContext, ds *dataSet, out record.Appender, reverse *record.Flow, stats *Stats) error {
	minLen, variable := 0, false
	for i := range ds.fields {
		if n := ds.fields[i].Length; n == 0xffff {
			minLen++
			variable = true
		} else {
			minLen += int(n)
		}
	}
	body := ds.body
	var x extractor
	for !isPadding(body, minLen, variable) {
		f := out.Slot()
		x.begin(ctx, f)
		for i := range ds.fields {
			field := &ds.fields[i]
			n := int(field.Length)
			if n == 0xffff {
				if len(body) < 1 {
					return ds.recordCut(stats)
				}
				n, body = int(body[0]), body[1:]
				if n == 255 {
					if len(body) < 2 {
						return ds.recordCut(stats)
					}
					n, body = int(binary.BigEndian.Uint16(body)), body[2:]
				}
			}
			if n > len(body) {
				return ds.recordCut(stats)
			}
			x.field(field.PenProvided, field.Pen, field.Type, body[:n], stats)
			body = body[n:]
		}
		rev := x.finish(d, stats)
		ctx.nameInterfaces(f)
		hasReverse := rev.carries()
		if hasReverse {
			*reverse = *f
		}
		out.Commit()
		stats.Flows++
		if hasReverse {
			r := out.Slot()
			*r = *reverse
			rev.reverse(r)
			ctx.nameInterfaces(r)
			out.Commit()
			stats.Flows++
			stats.ReverseFlows++
		}
	}
	return nil
}

// cutInLastRecord reports whether a data set whose declared length runs
// overrun bytes past the end of the datagram (or IPFIX message) was cut
// inside its last record: the overrun is shorter than the record the end
// cuts (at its least length: its fixed-length fields, and its
// variable-length values as far as their lengths could be read) plus
// padding. A longer overrun means a corrupt length, not a cut: the bytes
// to the end are other sets, and read as records they would be stored as
// flows.
func cutInLastRecord(body []byte, fields []netflow.Field, overrun int) bool {
	return overrun < cutRecordLen(body, fields)+maxPadding
}

// cutRecordLen walks body's records by their lengths and returns the least
// length of the one body's end cuts (the template's shortest record when
// body ends between records).
func cutRecordLen(body []byte, fields []netflow.Field) int {
	minLen := 0
	for i := range fields {
		if n := fields[i].Length; n == 0xffff {
			minLen++
		} else {
			minLen += int(n)
		}
	}
	if minLen == 0 {
		return 0 // refused by the store; no record to walk
	}
	for {
		rec, need := 0, minLen // this record's bytes walked, its least length
		for i := range fields {
			n := int(fields[i].Length)
			if n == 0xffff {
				if len(body) < rec+1 {
					return need
				}
				n, rec = int(body[rec]), rec+1
				if n == 255 {
					if len(body) < rec+2 {
						return need + 2
					}
					n, rec = int(binary.BigEndian.Uint16(body[rec:])), rec+2
					need += 2
				}
				need += n
			}
			rec += n
			if rec > len(body) {
				return need
			}
		}
		body = body[rec:]
	}
}

// maxPadding is the most padding a set can end with: 7 octets, to align
// the next set on 8 octets, the widest alignment RFC 7011 §3.3.1 names
// (RFC 3954 §5.3, NetFlow v9, aligns on 4).
const maxPadding = 7

// isPadding reports whether rest, what is left of a data set after its
// last whole record, is padding rather than records. RFC 7011 §3.3.1 (and
// RFC 3954 §5.3 for v9, as corrected by erratum 2096) makes padding
// shorter than any record the template allows, and of zero octets.
//
//   - Shorter than minLen, the shortest record of the template (a length
//     byte for each variable-length field, whose value may be empty), it
//     can only be padding. For a template of fixed-length fields that rule
//     is exact: any longer rest is records, whatever its bytes.
//   - A template with variable-length fields allows records of as little
//     as one octet, shorter than any padding, so exporters pad anyway and
//     zero padding of up to maxPadding octets parses as records: each zero
//     a record whose variable-length fields are empty. So a rest of at
//     most maxPadding octets, all zero, is padding too. No record is lost
//     that said anything: read as records, those octets would make only
//     records whose every field is zero or empty.
func isPadding(rest []byte, minLen int, variable bool) bool {
	if len(rest) < max(minLen, 1) {
		return true
	}
	if !variable || len(rest) > maxPadding {
		return false
	}
	for _, b := range rest {
		if b != 0 {
			return false
		}
	}
	return true
}

// recordCut counts and reports a record whose variable-length value runs
// past the end of its set. In a set that ran past the datagram's end, that
// record is the one the end cut, already counted with the set.
func (ds *dataSet) recordCut(stats *Stats) error {
	if !ds.cut {
		stats.RecordsCut++
	}
	return newError(decodeerr.Truncated, errVariableLength)
}

// errVariableLength is the cause of a data set abandoned mid-record.
var errVariableLength = errors.New("data set: a variable-length field runs past the end of the set")
