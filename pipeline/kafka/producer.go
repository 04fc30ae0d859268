// Package kafka carries canonical flow records between sluice's tiers over
// Apache Kafka, with github.com/segmentio/kafka-go: the Producer runs in the
// collectors, the Consumer in the pipeline workers.
//
// A Kafka message holds the records of one exporter, encoded by
// pipeline/recordpb as a FlowBatch, keyed by the exporter's address (so one
// exporter's records stay in one partition, in order) and tagged with the
// schema version header. See pipeline/recordpb/README.md for the format.
//
// Delivery is at least once: the producer reports each Send's outcome through
// a callback once Kafka has acknowledged (or given up on) every record, and the
// consumer commits offsets only when told to, after the caller has handled
// the records.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
	"sluice/pipeline/recordpb"
	"sluice/pipeline/spool"
)

// ErrClosed is returned by Send after Stop.
var ErrClosed = errors.New("kafka producer closed")

// schemaHeaders is every message's header list. kafka-go only reads it, so
// all messages share it.
var schemaHeaders = []kafkago.Header{{Key: recordpb.SchemaHeader, Value: []byte(recordpb.SchemaVersion)}}

// Producer encodes batches of records and writes them to the topic
// asynchronously. Its methods are safe for concurrent use.
type Producer struct {
	r       *reporter.Reporter
	cfg     Config
	limiter *reporter.Limiter
	metrics producerMetrics

	transport *kafkago.Transport
	writer    *kafkago.Writer
	// inFlight holds a token per message handed to the writer and not yet
	// completed: kafka-go's async writer buffers without bound otherwise.
	inFlight chan struct{}
	closed   atomic.Bool
	// sending counts Sends in progress, so Stop waits for them before
	// closing the writer.
	sending sync.WaitGroup
	mu      sync.Mutex // orders Stop against the start of a Send

	maxMessageBytes int
}

// ProducerDependencies is what a Producer is handed: nothing yet.
type ProducerDependencies struct{}

// NewProducer checks the configuration and builds the producer; it connects
// to nothing until the first Send or EnsureTopic.
func NewProducer(r *reporter.Reporter, cfg Config, _ ProducerDependencies) (*Producer, error) {
	r = r.Package()
	return newProducer(r, cfg)
}

// newProducer builds a producer reporting through r as is, so the counter
// producer keeps its "counters" sub-prefix.
func newProducer(r *reporter.Reporter, cfg Config) (*Producer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("kafka configuration: %w", err)
	}
	compression, _ := compressionCodec(cfg.Producer.Compression)
	acks, _ := requiredAcks(cfg.Producer.RequiredAcks)
	p := &Producer{
		r:         r,
		cfg:       cfg,
		limiter:   r.NewLimiter(5, 10*time.Second),
		inFlight:  make(chan struct{}, cfg.Producer.MaxInFlightMessages),
		transport: cfg.transport(),
		// A message is cut before the next record could push it over the
		// limit.
		maxMessageBytes: cfg.Producer.MaxMessageBytes - (recordpb.MaxFlowSize() + 4),
	}
	var err error
	p.metrics, err = newProducerMetrics(r.Registerer(), func() float64 { return float64(len(p.inFlight)) })
	if err != nil {
		return nil, err
	}
	p.writer = &kafkago.Writer{
		Addr:  kafkago.TCP(cfg.Brokers...),
		Topic: cfg.Topic,
		// Murmur2 of the key, as Java clients partition: a third-party
		// producer keyed the same way lands on the same partitions.
		Balancer:     &kafkago.Murmur2Balancer{},
		MaxAttempts:  cfg.Producer.MaxAttempts,
		BatchSize:    cfg.Producer.BatchSize,
		BatchBytes:   cfg.Producer.BatchBytes,
		BatchTimeout: cfg.Producer.BatchTimeout,
		WriteTimeout: cfg.Producer.WriteTimeout,
		RequiredAcks: acks,
		Async:        true,
		Completion:   p.completed,
		Compression:  compression,
		ErrorLogger:  kafkago.LoggerFunc(p.logKafkaError),
		Transport:    p.transport,
	}
	return p, nil
}

// Start does nothing: kafka-go connects on the first write, and a
// collector must start while Kafka is down (its forwarder spools). Topic
// creation is EnsureTopic's, retried by whoever needs the topic.
func (p *Producer) Start(context.Context) error { return nil }

// EnsureTopic creates the topic if it is missing and configured to
// (CreateTopic), then waits until the brokers know it, so the first Send
// does not fail on missing metadata. Without CreateTopic it does nothing.
func (p *Producer) EnsureTopic(ctx context.Context) error {
	if !p.cfg.CreateTopic {
		return nil
	}
	if err := ensureTopic(ctx, p.transport, p.cfg); err != nil {
		return fmt.Errorf("kafka producer: %w", err)
	}
	return nil
}

func (p *Producer) logKafkaError(format string, args ...any) {
	p.limiter.Log(p.r.Logger, "kafka-go", "kafka client error", "error", fmt.Sprintf(format, args...))
}

// message is one Kafka message being produced: an exporter's FlowBatch,
// pooled with its buffer.
type message struct {
	value    []byte
	exporter record.Addr
	records  int
	send     *sendState
	// borrowed: value belongs to the caller of SendEncoded, so the pool
	// must not keep it.
	borrowed bool
	// headers and headerBuf hold SendEncoded's headers until the message
	// is completed, reused from one message to the next.
	headers   [3]kafkago.Header
	headerBuf []byte
}

var messagePool = sync.Pool{New: func() any { return new(message) }}

func (m *message) release() {
	if m.borrowed {
		m.value, m.borrowed = nil, false
	}
	m.value = m.value[:0]
	m.records = 0
	m.send = nil
	messagePool.Put(m)
}

// sendState tracks one Send until each of its messages is acknowledged or
// failed.
type sendState struct {
	// pending counts the messages not yet completed, plus one that Send
	// holds until it has handed every message over, so done cannot run
	// early.
	pending atomic.Int32
	mu      sync.Mutex
	err     error
	done    func(error)
}

func (s *sendState) finish(err error) {
	if err != nil {
		s.mu.Lock()
		if s.err == nil {
			s.err = err
		}
		s.mu.Unlock()
	}
	if s.pending.Add(-1) == 0 && s.done != nil {
		s.done(s.err)
	}
}

// grouping is the scratch space of one Send, pooled.
type grouping struct {
	open     map[record.Addr]*message
	messages []*message
	kafka    []kafkago.Message
}

var groupingPool = sync.Pool{New: func() any { return &grouping{open: map[record.Addr]*message{}} }}

// Send encodes flows into one message per exporter (more when an exporter's
// records exceed max-message-bytes) and hands them to Kafka without waiting
// for the brokers. flows may be reused as soon as Send returns.
//
// done, if not nil, is called exactly once, from another goroutine or before
// Send returns, when every record is either acknowledged by Kafka or failed;
// its error is nil only if all were acknowledged (the first error otherwise).
// It must not block: it runs on kafka-go's delivery goroutine.
//
// Send blocks while max-in-flight-messages are unacknowledged: that is how a
// slow broker slows the collector down. It returns an error when ctx ends or
// the producer is closed before every message was handed over; done then
// receives that error as well.
func (p *Producer) Send(ctx context.Context, flows []record.Flow, done func(error)) error {
	p.mu.Lock()
	if p.closed.Load() {
		p.mu.Unlock()
		if done != nil {
			done(ErrClosed)
		}
		return ErrClosed
	}
	p.sending.Add(1)
	p.mu.Unlock()
	defer p.sending.Done()

	state := &sendState{done: done}
	state.pending.Store(1)
	g := groupingPool.Get().(*grouping)
	defer func() {
		clear(g.open)
		clear(g.messages)
		g.messages = g.messages[:0]
		clear(g.kafka)
		g.kafka = g.kafka[:0]
		groupingPool.Put(g)
	}()

	for i := range flows {
		f := &flows[i]
		m := g.open[f.ExporterAddress]
		if m == nil || len(m.value) > p.maxMessageBytes {
			m = messagePool.Get().(*message)
			m.exporter = f.ExporterAddress
			m.send = state
			g.open[f.ExporterAddress] = m
			g.messages = append(g.messages, m)
		}
		m.value = recordpb.AppendBatchFlow(m.value, f)
		m.records++
	}
	now := time.Now()
	for _, m := range g.messages {
		g.kafka = append(g.kafka, kafkago.Message{
			Key:        m.exporter[:],
			Value:      m.value,
			Headers:    schemaHeaders,
			Time:       now,
			WriterData: m,
		})
	}
	state.pending.Add(int32(len(g.messages)))

	// Hand messages over in runs: each needs an in-flight token, and when
	// none is free, what is gathered so far goes first so that its
	// completion can free tokens.
	handed := 0
	var err error
	for i := range g.kafka {
		select {
		case p.inFlight <- struct{}{}:
			continue
		default:
		}
		err = p.write(ctx, g.kafka[handed:i])
		handed = i
		if err != nil {
			break
		}
		select {
		case p.inFlight <- struct{}{}:
		case <-ctx.Done():
			err = fmt.Errorf("waiting for Kafka to acknowledge earlier messages: %w", ctx.Err())
		}
		if err != nil {
			break // message i got no token: it and the rest fail below
		}
	}
	if err == nil {
		err = p.write(ctx, g.kafka[handed:])
	} else {
		for _, km := range g.kafka[handed:] {
			m := km.WriterData.(*message)
			p.metrics.failedRecords.Add(float64(m.records))
			m.release()
			state.finish(err)
		}
	}
	state.finish(nil)
	return err
}

// MessageIDHeader carries a message's identity, stable when the message is
// sent again (from the spool, after a failure or a restart), so consumers
// can skip a copy they have already handled. From a collector's spool it is
// "<instance id>-<segment>-<index>" (see pipeline/spool).
const MessageIDHeader = "sluice-message-id"

// AckedHeader, beside MessageIDHeader, is "<segment>-<index>": every entry
// of the same spool instance before that position had been acknowledged by
// Kafka when the message was sent, so its copies are in the topic before
// this message. The consumers' deduplication (see dedupState) rests on it.
const AckedHeader = "sluice-acked"

// Identity is what a message says of itself in its headers; empty fields
// add no header.
type Identity struct {
	// ID goes into MessageIDHeader.
	ID string
	// Acked goes into AckedHeader.
	Acked string
	// Spool, when set, stands for ID and Acked: the message is the entry
	// at Entry of the spool instance Spool, sent when AckedAt was the
	// spool's acknowledged position. The headers are then written into a
	// buffer kept with the pooled message, no string built per message.
	Spool          string
	Entry, AckedAt spool.Pos
}

// SendEncoded hands Kafka one message that is already encoded: value is a
// FlowBatch of records flow records, all of the exporter key names; id's
// fields, when not empty, go into the MessageIDHeader and AckedHeader
// headers. done runs once Kafka has acknowledged or given up on the
// message; key and value must stay unchanged until then. Like Send, it
// blocks while max-in-flight-messages are unacknowledged.
func (p *Producer) SendEncoded(ctx context.Context, key, value []byte, records int, id Identity, done func(error)) error {
	p.mu.Lock()
	if p.closed.Load() {
		p.mu.Unlock()
		done(ErrClosed)
		return ErrClosed
	}
	p.sending.Add(1)
	p.mu.Unlock()
	defer p.sending.Done()

	state := &sendState{done: done}
	state.pending.Store(2) // the message, and this call until it handed it over
	m := messagePool.Get().(*message)
	m.value, m.borrowed, m.records, m.send = value, true, records, state
	headers := m.identityHeaders(id)
	var err error
	select {
	case p.inFlight <- struct{}{}:
		err = p.write(ctx, []kafkago.Message{{Key: key, Value: value, Headers: headers, Time: time.Now(), WriterData: m}})
	case <-ctx.Done():
		err = fmt.Errorf("waiting for Kafka to acknowledge earlier messages: %w", ctx.Err())
		p.metrics.failedRecords.Add(float64(records))
		m.release()
		state.finish(err)
	}
	state.finish(nil)
	return err
}

// identityHeaders returns the schema header and id's headers, written into
// m's own header array and buffer (so without allocating once m was used).
func (m *message) identityHeaders(id Identity) []kafkago.Header {
	if id.ID == "" && id.Acked == "" && id.Spool == "" {
		return schemaHeaders
	}
	b := m.headerBuf[:0]
	if id.Spool != "" {
		b = appendPos(append(append(b, id.Spool...), '-'), id.Entry)
	} else {
		b = append(b, id.ID...)
	}
	idLen := len(b)
	if id.Spool != "" {
		b = appendPos(b, id.AckedAt)
	} else {
		b = append(b, id.Acked...)
	}
	m.headerBuf = b
	headers := append(m.headers[:0], schemaHeaders[0])
	if idLen > 0 {
		headers = append(headers, kafkago.Header{Key: MessageIDHeader, Value: b[:idLen:idLen]})
	}
	if len(b) > idLen {
		headers = append(headers, kafkago.Header{Key: AckedHeader, Value: b[idLen:]})
	}
	return headers
}

// appendPos appends "<segment>-<index>".
func appendPos(b []byte, pos spool.Pos) []byte {
	b = strconv.AppendUint(b, pos.Segment, 10)
	return strconv.AppendInt(append(b, '-'), int64(pos.Index), 10)
}

// write hands messages, each holding an in-flight token, to the async writer.
// When the writer refuses them outright its Completion never sees them, so
// they are failed here.
func (p *Producer) write(ctx context.Context, msgs []kafkago.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	err := p.writer.WriteMessages(ctx, msgs...)
	if err == nil {
		return nil
	}
	err = fmt.Errorf("writing to Kafka topic %s: %w", p.cfg.Topic, err)
	p.metrics.errors.Inc()
	for i := range msgs {
		m := msgs[i].WriterData.(*message)
		p.metrics.failedRecords.Add(float64(m.records))
		state := m.send
		m.release()
		<-p.inFlight
		state.finish(err)
	}
	return err
}

// completed is kafka-go's Completion callback: it runs once per produce
// request, after the brokers answered or the retries ran out.
func (p *Producer) completed(msgs []kafkago.Message, err error) {
	if err != nil {
		p.metrics.errors.Inc()
		p.limiter.Log(p.r.Logger, "produce", "Kafka did not take records", "topic", p.cfg.Topic, "messages", len(msgs), "error", err)
		err = fmt.Errorf("producing to Kafka topic %s: %w", p.cfg.Topic, err)
	}
	for i := range msgs {
		m := msgs[i].WriterData.(*message)
		if err != nil {
			p.metrics.failedRecords.Add(float64(m.records))
		} else {
			p.metrics.messages.Inc()
			p.metrics.records.Add(float64(m.records))
			p.metrics.bytes.Add(float64(len(m.value)))
		}
		state := m.send
		m.release()
		<-p.inFlight
		state.finish(err)
	}
}

// Put sends a collector batch and releases it, so the Producer can be the
// collector's Output in the distributed deployment. Records Kafka refuses
// are counted (producer_failed_records_total) and logged, not retried: the
// collector has no way to replay a datagram.
func (p *Producer) Put(ctx context.Context, b *record.Batch) error {
	err := p.Send(ctx, b.Flows, nil)
	b.Release()
	return err
}

// Stop stops accepting records, flushes what is buffered and waits until
// Kafka has acknowledged or failed every message, so every done callback
// has run when it returns. When ctx ends first it returns an error naming
// the messages still unacknowledged; kafka-go finishes (or fails) them in
// the background, within its write timeout and retries.
func (p *Producer) Stop(ctx context.Context) error {
	p.mu.Lock()
	alreadyClosed := p.closed.Swap(true)
	p.mu.Unlock()
	if alreadyClosed {
		return nil
	}
	closed := make(chan error, 1)
	go func() {
		p.sending.Wait()
		closed <- p.writer.Close()
	}()
	select {
	case err := <-closed:
		if err != nil {
			return fmt.Errorf("closing kafka producer: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("kafka producer: %d messages not acknowledged at the stop deadline: %w", len(p.inFlight), ctx.Err())
	}
}
