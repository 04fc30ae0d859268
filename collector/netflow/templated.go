package netflow

import (
	"encoding/binary"

	"fmt"

	"github.com/netsampler/goflow2/v2/decoders/netflow"

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
	state         *templates.Exporter
}

// decodeTemplated decodes a NetFlow v9 or IPFIX datagram.
//
// Before goflow2 sees the datagram, its sets are walked (checkSets) so that
// a datagram cut short or with a corrupt set length is decoded up to its
// last complete set and then reported, instead of goflow2 silently decoding
// a partial set. Options data sets are applied before data sets, so a
// sampling rate announced in the same datagram applies to its flows.
func (d *Decoder) decodeTemplated(s *scratch, exporter record.Addr, receivedNanos int64, payload []byte, emit func(*record.Flow), stats *Stats) error {
	end, framingErr := checkSets(stats.Version, payload)
	if end == 0 {
		return framingErr
	}

	ctx := packetContext{
		version:       stats.Version,
		receivedNanos: receivedNanos,
		exporter:      exporter,
		state:         d.store.Exporter(exporter),
	}
	var flowSets []any
	var decodeErr error
	if stats.Version == 9 {
		s.v9 = netflow.NFv9Packet{}
		decodeErr = netflow.DecodeMessageVersion(newBuffer(payload[:end]), ctx.state, &s.v9, &s.ipfix)
		flowSets = s.v9.FlowSets
		ctx.obsDomain = s.v9.SourceId
		ctx.exportMillis = int64(s.v9.UnixSeconds) * 1000
		ctx.uptimeMillis = s.v9.SystemUptime
	} else {
		s.ipfix = netflow.IPFIXPacket{}
		decodeErr = netflow.DecodeMessageVersion(newBuffer(payload[:end]), ctx.state, &s.v9, &s.ipfix)
		flowSets = s.ipfix.FlowSets
		ctx.obsDomain = s.ipfix.ObservationDomainId
		ctx.exportMillis = int64(s.ipfix.ExportTime) * 1000
	}

	for _, fs := range flowSets {
		switch fs := fs.(type) {
		case netflow.TemplateFlowSet:
			stats.Templates += len(fs.Records)
		case netflow.NFv9OptionsTemplateFlowSet:
			stats.Templates += len(fs.Records)
		case netflow.IPFIXOptionsTemplateFlowSet:
			stats.Templates += len(fs.Records)
		case netflow.OptionsDataFlowSet:
			for i := range fs.Records {
				learnSampling(&ctx, &fs.Records[i])
			}
			stats.OptionsRecords += len(fs.Records)
		case netflow.RawFlowSet:
			stats.MissingTemplateSets++
		}
	}
	f := &s.flow
	for _, fs := range flowSets {
		if fs, ok := fs.(netflow.DataFlowSet); ok {
			for i := range fs.Records {
				d.extract(&ctx, fs.Records[i].Values, f, stats)
				emit(f)
				stats.Flows++
			}
		}
	}

	// The first problem found wins: a framing problem explains any goflow2
	// error that follows from it.
	switch {
	case framingErr != nil:
		return framingErr
	case decodeErr != nil:
		return classifyGoflow2(decodeErr)
	case stats.MissingTemplateSets > 0:
		return &DecodeError{Reason: ReasonTemplateNotFound, Err: fmt.Errorf("%d data sets", stats.MissingTemplateSets)}
	}
	return nil
}

// checkSets walks the set headers of a v9 or IPFIX datagram and returns how
// many leading bytes hold complete sets, with an error describing anything
// beyond them. end is 0 when nothing can be decoded.
//
// Zero bytes after the last set are padding (some exporters fill datagrams
// to a fixed size) and are not an error. For IPFIX, the message length field
// bounds the sets; bytes after it are ignored.
func checkSets(version uint16, payload []byte) (end int, err error) {
	headerLen := v9HeaderLen
	if version == 10 {
		headerLen = ipfixHeaderLen
	}
	if len(payload) < headerLen {
		return 0, &DecodeError{Reason: ReasonTruncated, Err: fmt.Errorf("header: %d bytes", len(payload))}
	}
	limit := len(payload)
	if version == 10 {
		msgLen := int(binary.BigEndian.Uint16(payload[2:4]))
		switch {
		case msgLen < headerLen:
			return 0, &DecodeError{Reason: ReasonMalformed, Err: fmt.Errorf("message length %d", msgLen)}
		case msgLen > len(payload):
			err = &DecodeError{Reason: ReasonTruncated, Err: fmt.Errorf("message length %d, got %d bytes", msgLen, len(payload))}
		default:
			limit = msgLen
		}
	}
	pos := headerLen
	for pos < limit {
		if limit-pos < setHeaderLen {
			if err == nil && !allZero(payload[pos:limit]) {
				err = &DecodeError{Reason: ReasonTruncated, Err: fmt.Errorf("set header at %d cut short", pos)}
			}
			break
		}
		setLen := int(binary.BigEndian.Uint16(payload[pos+2 : pos+4]))
		if setLen < setHeaderLen {
			if err == nil && !allZero(payload[pos:limit]) {
				err = &DecodeError{Reason: ReasonMalformed, Err: fmt.Errorf("set at %d has length %d", pos, setLen)}
			}
			break
		}
		if pos+setLen > limit {
			if err == nil {
				err = &DecodeError{Reason: ReasonTruncated, Err: fmt.Errorf("set at %d has length %d, %d bytes left", pos, setLen, limit-pos)}
			}
			break
		}
		pos += setLen
	}
	if pos == headerLen && err != nil {
		return 0, err
	}
	return pos, err
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// learnSampling stores the sampling rate an options data record announces,
// keyed by its sampler (or selector) ID, 0 when it names none. Scope and
// option fields are both searched: exporters put the sampler ID in either.
func learnSampling(ctx *packetContext, rec *netflow.OptionsDataRecord) {
	var sp samplingFields
	for _, group := range [2][]netflow.DataField{rec.ScopesValues, rec.OptionsValues} {
		for i := range group {
			field := &group[i]
			if field.PenProvided {
				continue
			}
			value, ok := field.Value.([]byte)
			if !ok {
				continue
			}
			sp.read(field.Type, value)
		}
	}
	if rate := sp.rate(); rate != 0 {
		ctx.state.SetSamplingRate(templates.SamplerKey{Version: ctx.version, ObservationDomain: ctx.obsDomain, SamplerID: sp.samplerID}, rate)
	}
}
