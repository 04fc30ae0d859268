// Package netflow decodes NetFlow v5, NetFlow v9 and IPFIX datagrams into
// sluice's canonical record.
//
// goflow2's decoders (decoders/netflowlegacy and decoders/netflow) parse the
// datagram structure and keep templates; the extraction of fields into
// record.Flow is ours (fields.go), so that it allocates nothing per record
// and reads exactly the fields sluice stores. goflow2's producer layer is not
// used.
//
// Template and sampling state lives in a templates.Store, keyed by exporter
// address and observation domain, never by UDP source port, and bounded
// against floods from spoofed sources (see package templates).
package netflow

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/netsampler/goflow2/v2/decoders/netflowlegacy"

	"sluice/collector/decodeerr"
	"sluice/collector/sampling"
	"sluice/collector/templates"
	"sluice/pipeline/record"
)

// Config configures a Decoder.
type Config struct {
	// DefaultSamplingRate is used for flows whose sampling rate is neither
	// in the record, the v5 header nor in options data. 0 leaves it at 1.
	DefaultSamplingRate uint64
	// SamplingOverrides force the rate of some exporters, whatever they
	// announce (nil: none).
	SamplingOverrides *sampling.Overrides
	// Templates bounds the template and sampling state, per exporter and
	// in total, and sets how long an idle exporter's state is kept.
	Templates templates.Config
}

// DefaultConfig returns the default configuration.
func DefaultConfig() Config {
	return Config{Templates: templates.DefaultConfig()}
}

// Stats describes what Decode found in one datagram.
type Stats struct {
	Version             uint16 // 5, 9 or 10; 0 when unreadable
	Flows               int    // records emitted
	Templates           int    // template records received (data and options)
	OptionsRecords      int    // options data records read
	MissingTemplateSets int    // data sets skipped because their template is unknown
	SamplingDefaulted   int    // emitted flows whose sampling rate came from DefaultSamplingRate (or 1)
	HeaderCountMismatch int    // 1 when a v9 header counts fewer records than the datagram has sets
	ReverseFlows        int    // RFC 5103 reverse records emitted (included in Flows)
	EnterpriseFields    int    // enterprise-specific field values skipped (RFC 5103's excepted)
	TotalsEvicted       int    // live flows whose previous total the table dropped for another flow's (totals.go)
	TotalsOutOfOrder    int    // totals lower than their flow's newest, stored as 0 (totals.go)

	// Sets cut short, by what was lost (also reported as decodeerr.Truncated).
	DataSetsCut     int // a data set ran past the end of the datagram: its complete records were decoded
	DataSetsCorrupt int // a data set ran past the end by more than its last record: a corrupt length, dropped whole (reported as malformed)
	OtherSetsCut    int // a template or options set ran past the end: dropped whole
	RecordsCut      int // a variable-length value ran past the end of its set: the set's later records dropped
}

// Decoder decodes NetFlow v5, v9 and IPFIX datagrams. It is safe for
// concurrent use; a given exporter's datagrams should still be decoded in
// arrival order (templates before the data that uses them).
type Decoder struct {
	cfg     Config
	store   *templates.Store
	scratch sync.Pool
	panics  atomic.Uint64
	totals  totalsTable // previous totals of the flows reporting them (totals.go)
}

// scratch is the per-call working memory, pooled so that a busy worker
// reuses it instead of allocating a record and packet structs per datagram.
type scratch struct {
	reverse  record.Flow    // a biflow's reverse record, made from its forward one
	emitter  record.Emitter // Decode's callback as an Appender
	v5       netflowlegacy.PacketNetFlowV5
	handle   templates.Handle // the exporter's templates, handed to goflow2
	dataSets []dataSet        // the datagram's data sets, walked after its options
	ctx      packetContext
}

// New returns a decoder with an empty template store.
func New(cfg Config) *Decoder {
	d := &Decoder{cfg: cfg, store: templates.NewStore(cfg.Templates)}
	d.scratch.New = func() any { return new(scratch) }
	return d
}

// Templates returns the decoder's template and sampling state, to snapshot,
// restore or report.
func (d *Decoder) Templates() *templates.Store { return d.store }

// Panics returns how many panics Decode has recovered from.
func (d *Decoder) Panics() uint64 { return d.panics.Load() }

// Decode decodes one datagram received from exporter (the UDP source
// address) at receivedNanos (Unix nanoseconds) and calls emit once per flow
// record. The *record.Flow passed to emit is reused: it is only valid during
// the call.
//
// Records that could be decoded are emitted even when an error is returned;
// the error is a *decodeerr.Error whose Reason says what was lost. In
// particular, data sets whose template is unknown are counted in
// Stats.MissingTemplateSets and reported as decodeerr.TemplateNotFound after
// the rest of the datagram has been emitted.
func (d *Decoder) Decode(exporter record.Addr, receivedNanos int64, payload []byte, emit func(*record.Flow)) (stats Stats, err error) {
	return d.decode(exporter, receivedNanos, payload, nil, emit)
}

// DecodeInto is Decode, with the records decoded straight into where out
// keeps them (the collector's batch), with no copy: out.Slot gives the
// record to fill, out.Commit adds it.
func (d *Decoder) DecodeInto(exporter record.Addr, receivedNanos int64, payload []byte, out record.Appender) (stats Stats, err error) {
	return d.decode(exporter, receivedNanos, payload, out, nil)
}

// decode fills out's records, or, when out is nil, the scratch's one for
// emit.
func (d *Decoder) decode(exporter record.Addr, receivedNanos int64, payload []byte, out record.Appender, emit func(*record.Flow)) (stats Stats, err error) {
	s := d.scratch.Get().(*scratch)
	if out == nil {
		s.emitter.Emit = emit
		out = &s.emitter
	}
	defer func() {
		// goflow2 is meant never to panic; if it does on some input, one
		// datagram is lost and counted, not the collector.
		if r := recover(); r != nil {
			d.panics.Add(1)
			err = decodeerr.Recovered("netflow", r)
			s = new(scratch) // the pooled one may be half-written
		}
		s.handle = templates.Handle{} // let an expired exporter's state go
		s.ctx = packetContext{}
		s.emitter.Emit = nil
		d.scratch.Put(s)
	}()
	if len(payload) < 2 {
		return stats, newError(decodeerr.Truncated, errors.New("no version field"))
	}
	stats.Version = binary.BigEndian.Uint16(payload)
	switch stats.Version {
	case 5:
		err = d.decodeV5(s, exporter, receivedNanos, payload, out, &stats)
	case 9, 10:
		err = d.decodeTemplated(s, exporter, receivedNanos, payload, out, &stats)
	default:
		err = newError(decodeerr.UnknownVersion, fmt.Errorf("version %d", stats.Version))
	}
	return stats, err
}

// samplingRate returns a flow's rate: the exporter's override if it has
// one, else the rate the exporter announced, else the configured default
// (counted).
func (d *Decoder) samplingRate(override, rate uint64, stats *Stats) uint64 {
	if override != 0 {
		return override
	}
	if rate != 0 {
		return rate
	}
	stats.SamplingDefaulted++
	if d.cfg.DefaultSamplingRate != 0 {
		return d.cfg.DefaultSamplingRate
	}
	return 1
}

// newBuffer wraps payload for goflow2 without copying.
func newBuffer(payload []byte) *bytes.Buffer { return bytes.NewBuffer(payload) }
