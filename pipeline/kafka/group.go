package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	kafkago "github.com/segmentio/kafka-go"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
	"sluice/pipeline/recordpb"
)

// Group is a member of the pipeline workers' consumer group, built on
// kafka-go's ConsumerGroup so that partitions change hands only at points
// this code controls: when a rebalance starts (or at shutdown), each
// partition's handler is told (Claim.Context ends), stores and commits what
// it holds, and only then does the member rejoin, so the next owner of the
// partition starts exactly where this one stopped.
type Group struct {
	r       *reporter.Reporter
	cfg     Config
	limiter *reporter.Limiter
	metrics consumerMetrics
	gm      groupMetrics

	deadLetter *kafkago.Writer
	// client commits offsets with their deduplication state, and reads
	// them back when a claim starts.
	client          *kafkago.Client
	commitTransport *kafkago.Transport
	// dedupBudget is the metadata size allowed, lowered when the brokers
	// refuse it as too large.
	dedupBudget atomic.Int64

	probe  *brokerProbe
	member atomic.Bool // in the group: a generation came, and no failure to join since

	// windows keeps each partition's seen message IDs between claims, for
	// messages of collectors without sluice-acked (see Claim.seen).
	windowsMu sync.Mutex
	windows   map[int]*idWindow
}

// seenIDs is how many message IDs a partition's window holds: a producer's
// retry lands well within that many messages of the first copy.
const seenIDs = 1 << 14

type groupMetrics struct {
	lag         *prometheus.GaugeVec
	assigned    prometheus.Gauge
	generations prometheus.Counter
	duplicates  prometheus.Counter
	evicted     prometheus.Counter
	deadLetters prometheus.Counter
	dlqErrors   prometheus.Counter
	commitErrs  prometheus.Counter
	groupErrs   prometheus.Counter
}

// GroupDependencies is what a Group is handed: nothing yet.
type GroupDependencies struct{}

// NewGroup checks the configuration; Run joins the group. The group is not
// a component of its own: the pipeline's Kafka source drives Run.
func NewGroup(r *reporter.Reporter, cfg Config, _ GroupDependencies) (*Group, error) {
	r = r.Package()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("kafka configuration: %w", err)
	}
	g := &Group{r: r, cfg: cfg, limiter: r.NewLimiter(5, 10*time.Second), windows: map[int]*idWindow{}, probe: newBrokerProbe(cfg)}
	g.commitTransport = cfg.transport()
	g.client = &kafkago.Client{Addr: kafkago.TCP(cfg.Brokers...), Transport: g.commitTransport}
	g.dedupBudget.Store(int64(cfg.Consumer.DedupStateBytes))
	var err error
	if g.metrics, err = newConsumerMetrics(r.Registerer()); err != nil {
		return nil, err
	}
	m := r.Metrics()
	g.gm = groupMetrics{
		lag:         m.GaugeVec("consumer_lag_records", "Messages of a partition this worker holds that are behind the partition's end (high-water mark), as of the last fetch.", "partition"),
		assigned:    m.Gauge("consumer_partitions_assigned", "Partitions this worker consumes in the current generation."),
		generations: m.Counter("consumer_generations_total", "Consumer group generations joined (each rebalance starts one)."),
		duplicates:  m.Counter("consumer_duplicates_total", "Messages skipped because a message with the same identity (sluice-message-id) was already consumed: a collector sent it again after a failed delivery or a crash."),
		evicted:     m.Counter("consumer_dedup_evicted_producers_total", "Collectors dropped from a partition's committed deduplication state for room (consumer.dedup-state-bytes): a message they send again would be stored twice."),
		deadLetters: m.Counter("consumer_dead_letter_messages_total", "Invalid messages copied to the dead-letter topic."),
		dlqErrors:   m.Counter("consumer_dead_letter_errors_total", "Invalid messages that could not be copied to the dead-letter topic (skipped all the same)."),
		commitErrs:  m.Counter("consumer_commit_errors_total", "Failed offset commits (retried while the partition is held)."),
		groupErrs:   m.Counter("consumer_group_errors_total", "Failures to join or sync the consumer group (retried)."),
	}
	m.GaugeFunc("consumer_kafka_up", "1 while the brokers answer the health check (kafka.health-check-interval) and this worker is a member of its consumer group; 0 otherwise.", func() float64 {
		if g.probe.up() && g.member.Load() {
			return 1
		}
		return 0
	})
	if err := m.Err(); err != nil {
		return nil, fmt.Errorf("registering consumer group metrics: %w", err)
	}
	if cfg.Consumer.DeadLetterTopic != "" {
		acks, _ := requiredAcks(cfg.Producer.RequiredAcks)
		g.deadLetter = &kafkago.Writer{
			Addr:         kafkago.TCP(cfg.Brokers...),
			Topic:        cfg.Consumer.DeadLetterTopic,
			Balancer:     &kafkago.Murmur2Balancer{},
			RequiredAcks: acks,
			MaxAttempts:  3,
			WriteTimeout: cfg.Producer.WriteTimeout,
			BatchTimeout: time.Millisecond,
			Transport:    cfg.transport(),
		}
	}
	return g, nil
}

// Run joins the group and, in each generation, calls handle once per
// assigned partition, each in its own goroutine. handle must return soon
// after its Claim's Context ends, having stored and committed what it holds
// or given up on it. Run returns when ctx ends, after every handler has
// returned and the member has left the group.
func (g *Group) Run(ctx context.Context, handle func(*Claim)) error {
	k := g.cfg.Consumer
	start, _ := startOffset(k.StartOffset)
	// Background work of this Run: the health probe, stale members
	// leaving.
	var background sync.WaitGroup
	defer background.Wait()
	probeCtx, stopProbe := context.WithCancel(ctx)
	defer stopProbe()
	background.Go(func() { g.probe.run(probeCtx) })
	defer g.member.Store(false)
	// kafka-go's group ends each generation at once while the topic is
	// missing (a rebalance storm): wait for it, creating it if configured
	// to, as the collectors do.
	transport := g.cfg.transport()
	client := &kafkago.Client{Addr: kafkago.TCP(g.cfg.Brokers...), Transport: transport}
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		var err error
		if g.cfg.CreateTopic {
			err = ensureTopic(ctx, transport, g.cfg)
		} else {
			err = topicReady(ctx, client, g.cfg.Topic)
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		g.limiter.Log(g.r.Logger, "topic", "waiting for the topic", "topic", g.cfg.Topic, "error", err, "retry_in", wait)
		if !sleep(ctx, wait) {
			return nil
		}
	}
	cg, err := kafkago.NewConsumerGroup(kafkago.ConsumerGroupConfig{
		ID:                    k.GroupID,
		Brokers:               g.cfg.Brokers,
		Dialer:                g.cfg.dialer(),
		Topics:                []string{g.cfg.Topic},
		HeartbeatInterval:     k.HeartbeatInterval,
		SessionTimeout:        k.SessionTimeout,
		RebalanceTimeout:      k.RebalanceTimeout,
		JoinGroupBackoff:      time.Second,
		WatchPartitionChanges: true,
		StartOffset:           start,
		ErrorLogger:           kafkago.LoggerFunc(g.logKafkaError),
	})
	if err != nil {
		return fmt.Errorf("kafka consumer group: %w", err)
	}
	member := "" // this worker's member ID in its last generation
	for {
		gen, err := cg.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, kafkago.ErrGroupClosed) {
				break
			}
			g.member.Store(false)
			g.gm.groupErrs.Inc()
			g.limiter.Log(g.r.Logger, "group", "cannot join the consumer group; retrying", "group", k.GroupID, "error", err)
			// On any failure but a rebalance in progress, kafka-go gives
			// up the member ID and joins afresh, after trying to leave
			// with it once, at once (in vain while the coordinator is
			// away, as during a broker restart). The coordinator that
			// comes back restores the old member from the group's log,
			// and holds every join until that member's session times
			// out: this worker would wait for its own ghost. Leave with
			// the old ID until the coordinator takes it.
			if member != "" && !errors.Is(err, kafkago.RebalanceInProgress) {
				stale := member
				background.Go(func() { g.leaveStale(ctx, client, stale) })
				member = ""
			}
			continue
		}
		member = gen.MemberID
		g.member.Store(true)
		g.gm.generations.Inc()
		assignments := gen.Assignments[g.cfg.Topic]
		partitions := make([]int, len(assignments))
		for i, a := range assignments {
			partitions[i] = a.ID
		}
		g.r.Info("joined consumer group", "group", k.GroupID, "generation", gen.ID, "member", gen.MemberID, "partitions", fmt.Sprint(partitions))
		g.keepOnly(assignments)
		gen.Start(func(genCtx context.Context) {
			// A generation that ended before it started (a heartbeat
			// failed at once) runs this without kafka-go waiting for it:
			// its claims could overlap the next generation's.
			if genCtx.Err() != nil {
				return
			}
			var wg sync.WaitGroup
			for _, a := range assignments {
				c := g.newClaim(genCtx, gen, a)
				wg.Go(func() {
					defer c.close()
					handle(c)
				})
			}
			wg.Wait()
			// With no partition (more workers than partitions), or a handler
			// that returned early, the generation still lasts until the
			// group ends it: returning would make this member rejoin.
			<-genCtx.Done()
		})
	}
	// Ends the generation (the handlers store and commit, the coordinator
	// connection staying open for their commits), then leaves the group.
	cg.Close()
	g.commitTransport.CloseIdleConnections()
	if g.deadLetter != nil {
		g.deadLetter.Close()
	}
	return nil
}

// leaveStale removes member, a member ID of this worker that kafka-go gave
// up, from the group. A coordinator that has just started may answer
// before it has loaded the group, and then restore the member from the
// group's log: so the leave is sent every half second until the
// coordinator has said for a whole session timeout that the member is not
// there (UNKNOWN_MEMBER_ID), by which time it would have expired anyway;
// or until ctx ends; and no longer than four session timeouts after the
// coordinator's first answer.
func (g *Group) leaveStale(ctx context.Context, client *kafkago.Client, member string) {
	group, session := g.cfg.Consumer.GroupID, g.cfg.Consumer.SessionTimeout
	// The coordinator's first answer, and the last leave that removed the
	// member (or the first answer).
	var first, last time.Time
	for first.IsZero() || time.Since(last) < session && time.Since(first) < 4*session {
		reqCtx, cancel := context.WithTimeout(ctx, g.cfg.DialTimeout)
		res, err := client.LeaveGroup(reqCtx, &kafkago.LeaveGroupRequest{
			GroupID: group, Members: []kafkago.LeaveGroupRequestMember{{ID: member}},
		})
		cancel()
		if err == nil {
			err = res.Error
			for _, m := range res.Members {
				err = errors.Join(err, m.Error)
			}
		}
		switch {
		case err == nil:
			if first.IsZero() {
				g.r.Info("removing a member ID the client gave up from the consumer group, so that joining again does not wait for its session to time out",
					"group", group, "member", member)
				first = time.Now()
			}
			last = time.Now()
		case errors.Is(err, kafkago.UnknownMemberId):
			if first.IsZero() {
				first, last = time.Now(), time.Now()
			}
		case errors.Is(err, kafkago.GroupCoordinatorNotAvailable), errors.Is(err, kafkago.NotCoordinatorForGroup),
			errors.Is(err, kafkago.GroupLoadInProgress), ctx.Err() == nil && !isKafkaError(err):
			// The coordinator is away, moving or loading: again.
		default:
			if ctx.Err() == nil {
				g.limiter.Log(g.r.Logger, "leave", "cannot remove a stale member from the consumer group; its session will time out",
					"group", group, "member", member, "error", err)
			}
			return
		}
		if !sleep(ctx, 500*time.Millisecond) {
			return
		}
	}
}

// isKafkaError says whether err carries an error code from a broker (as
// opposed to a network failure).
func isKafkaError(err error) bool {
	var ke kafkago.Error
	return errors.As(err, &ke)
}

func (g *Group) logKafkaError(format string, args ...any) {
	g.limiter.Log(g.r.Logger, "kafka-go", "kafka client error", "error", fmt.Sprintf(format, args...))
}

// Claim is one partition held by this worker for one generation.
type Claim struct {
	Topic     string
	Partition int
	// Start is the committed offset the claim starts from, or
	// kafka-go's FirstOffset/LastOffset when the group has none.
	Start int64

	g      *Group
	gen    *kafkago.Generation
	ctx    context.Context
	reader *kafkago.Reader
	label  string
	// seen holds the IDs of messages without an acknowledged position
	// (collectors before sluice-acked), with which a copy is recognised
	// only by this worker while it remembers the first.
	seen *idWindow
	// dedup recognises copies of messages with an identity; nil until
	// loaded from the committed offset's metadata at the first Fetch.
	dedup *dedupState
	// fetched is the offset after the last message fetched.
	fetched int64
	// base is the deduplication state last committed (or read at the
	// start), without intent, and baseNext the offset it was committed
	// with (-1: none): the state before the gathering being stored, which
	// CommitIntent commits again with the gathering's range.
	base     string
	baseNext int64
	// intent is the gathering recorded with the committed offset the claim
	// starts from, if any (read at the first Fetch).
	intent    Intent
	hasIntent bool
}

// Intent is the offset range of a gathering about to be stored, committed
// (CommitIntent) before it is, so that whichever worker consumes the
// partition next can rebuild exactly that gathering.
type Intent struct{ First, Last int64 }

func (g *Group) newClaim(ctx context.Context, gen *kafkago.Generation, a kafkago.PartitionAssignment) *Claim {
	k := g.cfg.Consumer
	reader := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers:        g.cfg.Brokers,
		Topic:          g.cfg.Topic,
		Partition:      a.ID,
		Dialer:         g.cfg.dialer(),
		MinBytes:       k.MinBytes,
		MaxBytes:       k.MaxBytes,
		MaxWait:        k.MaxWait,
		QueueCapacity:  k.QueueMessages,
		ReadBackoffMax: time.Second,
		ErrorLogger:    kafkago.LoggerFunc(g.logKafkaError),
	})
	reader.SetOffset(a.Offset)
	g.gm.assigned.Inc()
	return &Claim{
		Topic: g.cfg.Topic, Partition: a.ID, Start: a.Offset,
		g: g, gen: gen, ctx: ctx, reader: reader,
		label: strconv.Itoa(a.ID),
		seen:  g.takeWindow(a),
	}
}

// takeWindow hands a claim the IDs seen in the partition by this worker's
// earlier claims, less those it reads again: a copy written by a producer
// retry is skipped even when a rebalance (a broker restart, say) falls
// between the two copies.
func (g *Group) takeWindow(a kafkago.PartitionAssignment) *idWindow {
	g.windowsMu.Lock()
	w := g.windows[a.ID]
	delete(g.windows, a.ID)
	g.windowsMu.Unlock()
	if w == nil || a.Offset < 0 { // no committed offset: the group starts afresh
		return newIDWindow(seenIDs)
	}
	w.rewind(a.Offset)
	return w
}

// keepOnly drops the windows of partitions this worker no longer holds.
func (g *Group) keepOnly(assignments []kafkago.PartitionAssignment) {
	g.windowsMu.Lock()
	defer g.windowsMu.Unlock()
	for id := range g.windows {
		if !slices.ContainsFunc(assignments, func(a kafkago.PartitionAssignment) bool { return a.ID == id }) {
			delete(g.windows, id)
		}
	}
}

func (c *Claim) close() {
	c.g.windowsMu.Lock()
	c.g.windows[c.Partition] = c.seen
	c.g.windowsMu.Unlock()
	c.reader.Close()
	c.g.gm.assigned.Dec()
	c.g.gm.lag.DeleteLabelValues(c.label)
}

// Context ends when the partition is about to change hands (a rebalance) or
// the group is closing.
func (c *Claim) Context() context.Context { return c.ctx }

// ClaimMessage is one fetched Kafka message.
type ClaimMessage struct {
	// Flows are the message's records appended to the slice given to
	// Fetch; nothing is appended for a skipped message.
	Flows  []record.Flow
	Offset int64
	// Skipped says why a message contributes no records: "" (it does), a
	// decode error reason, or "duplicate".
	Skipped string
	// Producer and Seq are the message's identity when it has one (a
	// collector's spool instance ID and the entry's sequence number);
	// Producer is "" otherwise.
	Producer string
	Seq      uint64
}

// Fetch returns the partition's next message, waiting until ctx ends (pass
// the claim's Context, or one derived from it). A message that is not a
// valid record batch is counted, logged with its partition and offset,
// copied to the dead-letter topic when one is configured, and returned
// with Skipped set, so that the caller moves past it. So is a copy of a
// message consumed before: recognised by its identity and the committed
// deduplication state (see dedupState) when it carries sluice-acked, or,
// from an older collector, by its sluice-message-id among those this
// worker saw last.
func (c *Claim) Fetch(ctx context.Context, flows []record.Flow) (ClaimMessage, error) {
	if c.dedup == nil {
		if err := c.loadDedup(ctx); err != nil {
			return ClaimMessage{Flows: flows}, err
		}
	}
	km, err := c.reader.FetchMessage(ctx)
	if err != nil {
		return ClaimMessage{Flows: flows}, err
	}
	c.fetched = km.Offset + 1
	m := &c.g.metrics
	m.bytes.Add(float64(len(km.Value)))
	c.g.gm.lag.WithLabelValues(c.label).Set(float64(max(0, km.HighWaterMark-km.Offset-1)))
	msg := ClaimMessage{Flows: flows, Offset: km.Offset}
	if version, ok := schemaVersion(km.Headers); ok && version != recordpb.SchemaVersion {
		msg.Skipped = reasonSchema
		c.invalid(km, reasonSchema, fmt.Errorf("schema version %q, want %q", version, recordpb.SchemaVersion))
		return msg, nil
	}
	var id string
	if instance, seq, acked, ok := parseIdentity(headerBytes(km.Headers, MessageIDHeader), headerBytes(km.Headers, AckedHeader)); ok {
		var dup bool
		msg.Producer, dup = c.dedup.observe(instance, seq, acked, km.Offset)
		msg.Seq = seq
		if dup {
			c.g.gm.duplicates.Inc()
			msg.Skipped = "duplicate"
			return msg, nil
		}
	} else if id = header(km.Headers, MessageIDHeader); id != "" && c.seen.has(id) {
		c.g.gm.duplicates.Inc()
		msg.Skipped = "duplicate"
		return msg, nil
	}
	decoded, err := recordpb.UnmarshalBatch(km.Value, flows)
	if err != nil {
		msg.Skipped = reasonMalformed
		c.invalid(km, reasonMalformed, err)
		return msg, nil
	}
	if id != "" {
		c.seen.add(id, km.Offset)
	}
	m.messages.Inc()
	m.records.Add(float64(len(decoded) - len(flows)))
	msg.Flows = decoded
	return msg, nil
}

// schemaVersion reads the schema header. A message without one is taken as
// the topic's version: a third-party producer may not set headers.
func schemaVersion(headers []kafkago.Header) (string, bool) {
	for _, h := range headers {
		if h.Key == recordpb.SchemaHeader {
			return string(h.Value), true
		}
	}
	return "", false
}

func header(headers []kafkago.Header, key string) string {
	return string(headerBytes(headers, key))
}

func headerBytes(headers []kafkago.Header, key string) []byte {
	for _, h := range headers {
		if h.Key == key {
			return h.Value
		}
	}
	return nil
}

// invalid counts, logs and dead-letters a message that is skipped.
func (c *Claim) invalid(km kafkago.Message, reason string, cause error) {
	g := c.g
	g.metrics.decodeErrors.WithLabelValues(reason).Inc()
	g.limiter.Log(g.r.Logger, reason, "skipping invalid Kafka message",
		"topic", km.Topic, "partition", km.Partition, "offset", km.Offset, "reason", reason, "error", cause)
	if g.deadLetter == nil {
		return
	}
	headers := append(km.Headers[:len(km.Headers):len(km.Headers)],
		kafkago.Header{Key: "sluice-source", Value: fmt.Appendf(nil, "%s/%d/%d", km.Topic, km.Partition, km.Offset)},
		kafkago.Header{Key: "sluice-error", Value: []byte(reason + ": " + cause.Error())})
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.Producer.WriteTimeout)
	defer cancel()
	err := g.deadLetter.WriteMessages(ctx, kafkago.Message{Key: km.Key, Value: km.Value, Headers: headers})
	if err != nil {
		g.gm.dlqErrors.Inc()
		g.limiter.Log(g.r.Logger, "dead-letter", "cannot copy an invalid message to the dead-letter topic; skipped",
			"topic", g.cfg.Consumer.DeadLetterTopic, "partition", km.Partition, "offset", km.Offset, "error", err)
		return
	}
	g.gm.deadLetters.Inc()
}

// Commit records that the partition's messages before next are handled,
// with the deduplication state that goes with them as the commit's
// metadata. next must follow the last message fetched (the state describes
// what was fetched); otherwise no state is committed. It works during a
// rebalance too, until the handler returns.
func (c *Claim) Commit(next int64) error {
	if c.dedup == nil {
		// Nothing fetched: keep the state committed before.
		ctx, cancel := context.WithTimeout(context.Background(), c.g.cfg.Consumer.SessionTimeout)
		err := c.loadDedup(ctx)
		cancel()
		if err != nil {
			return err
		}
	}
	var metadata string
	if next == c.fetched && c.g.dedupBudget.Load() == 0 {
		// consumer.dedup-state-bytes 0: no state kept across claims.
		return c.commitBase(next, "")
	}
	if next == c.fetched {
		for {
			var evicted int
			metadata, evicted = c.dedup.encode(next, c.g.stateBudget())
			if evicted > 0 {
				c.g.gm.evicted.Add(float64(evicted))
				c.g.limiter.Log(c.g.r.Logger, "dedup-evict", "deduplication state full: collectors seen least recently dropped from it; a message they send again would be stored twice (raise consumer.dedup-state-bytes, within the brokers' offset.metadata.max.bytes)",
					"topic", c.Topic, "partition", c.Partition, "evicted", evicted, "dedup_state_bytes", c.g.dedupBudget.Load())
			}
			err := c.commitBase(next, metadata)
			if !errors.Is(err, kafkago.OffsetMetadataTooLarge) || len(metadata) == 0 {
				return err
			}
			// The brokers allow less than consumer.dedup-state-bytes.
			c.g.lowerBudget(len(metadata))
		}
	}
	// Before the last message fetched, no state matches next: committing
	// none would lose it for every later owner, and an older one would make
	// a rebuilt gathering skip other copies (another token). Keep the last
	// commit; the next owner reads from it, and the server drops the
	// repeated inserts by their tokens. The loop never does this (it
	// acknowledges what it fetched), so say it loudly.
	return fmt.Errorf("committing offset %d of %s/%d before the last message fetched (%d): not committed, the last commit stands", next, c.Topic, c.Partition, c.fetched)
}

// commitBase commits next with the deduplication state metadata and no
// intent, and keeps them as the state the next gathering starts from.
func (c *Claim) commitBase(next int64, metadata string) error {
	if err := c.commit(next, metadata); err != nil {
		return err
	}
	c.base, c.baseNext = metadata, next
	return nil
}

// CommitIntent records, before a gathering of the messages first to last
// is stored, its range with the partition's committed offset: the offset
// and the deduplication state stay those last committed (the state before
// the gathering), so that the next owner of the partition, whichever
// worker it is, reads from the same offset with the same state and can
// rebuild exactly this gathering (see Intent). Call it only once every
// message up to last is fetched, before Commit moves past them.
func (c *Claim) CommitIntent(first, last int64) error {
	next := c.baseNext
	if next < 0 {
		// No committed offset: the gathering starts the partition for
		// the group, as the start offset policy placed it.
		next = first
	}
	for {
		err := c.commit(next, c.base+encodeIntent(Intent{first, last}))
		if !errors.Is(err, kafkago.OffsetMetadataTooLarge) || c.base == "" {
			return err
		}
		// The brokers allow less than consumer.dedup-state-bytes: commit
		// the state before the gathering with fewer collectors (a copy
		// of theirs in the gathering may then be stored again if it is
		// rebuilt).
		c.g.lowerBudget(len(c.base))
		before, derr := decodeDedupState(c.base, next)
		if derr != nil {
			return err
		}
		c.base, _ = before.encode(next, c.g.stateBudget())
	}
}

// Intent is the gathering recorded (CommitIntent) with the committed offset
// the claim started from and not committed since: the gathering stored, or
// about to be, when the partition's previous owner stopped. ok is false
// when there is none. It is known once Fetch has returned a message.
func (c *Claim) Intent() (in Intent, ok bool) { return c.intent, c.hasIntent }

// stateBudget is the room for the deduplication state in a commit's
// metadata: the budget less the room of an intent.
func (g *Group) stateBudget() int { return int(g.dedupBudget.Load()) - intentRoom }

// lowerBudget halves the metadata budget after the brokers refused
// metadata of n bytes as too large, keeping room for an intent.
func (g *Group) lowerBudget(n int) { g.dedupBudget.Store(int64(n/2 + intentRoom)) }

func (c *Claim) commit(next int64, metadata string) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.g.cfg.Consumer.SessionTimeout)
	defer cancel()
	res, err := c.g.client.OffsetCommit(ctx, &kafkago.OffsetCommitRequest{
		GroupID: c.gen.GroupID, GenerationID: int(c.gen.ID), MemberID: c.gen.MemberID,
		Topics: map[string][]kafkago.OffsetCommit{c.Topic: {{Partition: c.Partition, Offset: next, Metadata: metadata}}},
	})
	if err == nil {
		found := false
		for _, p := range res.Topics[c.Topic] {
			if p.Partition == c.Partition {
				found, err = true, p.Error
			}
		}
		if err == nil && !found {
			// A commit is taken only when the coordinator says so.
			err = errors.New("the coordinator's response does not mention the partition")
		}
	}
	if err != nil {
		c.g.gm.commitErrs.Inc()
		return fmt.Errorf("committing offset %d of %s/%d: %w", next, c.Topic, c.Partition, err)
	}
	c.g.metrics.commits.Inc()
	return nil
}

// loadDedup reads the deduplication state committed with the offset the
// claim starts from. A partition without a committed offset starts with an
// empty state; so does one whose state cannot be read (logged: copies sent
// again by collectors may then be stored twice).
func (c *Claim) loadDedup(ctx context.Context) error {
	c.fetched = c.Start
	c.baseNext = c.Start
	if c.Start < 0 {
		c.dedup = newDedupState()
		return nil
	}
	res, err := c.g.client.OffsetFetch(ctx, &kafkago.OffsetFetchRequest{
		GroupID: c.gen.GroupID, Topics: map[string][]int{c.Topic: {c.Partition}},
	})
	if err == nil {
		err = res.Error
	}
	if err != nil {
		return fmt.Errorf("reading the committed deduplication state of %s/%d: %w", c.Topic, c.Partition, err)
	}
	var metadata string
	for _, p := range res.Topics[c.Topic] {
		if p.Partition != c.Partition {
			continue
		}
		if p.Error != nil {
			return fmt.Errorf("reading the committed deduplication state of %s/%d: %w", c.Topic, c.Partition, p.Error)
		}
		if p.CommittedOffset != c.Start {
			c.g.r.Warn("committed offset moved since the claim started; starting without deduplication state",
				"topic", c.Topic, "partition", c.Partition, "start", c.Start, "committed", p.CommittedOffset)
			c.dedup = newDedupState()
			return nil
		}
		metadata = p.Metadata
	}
	metadata, c.intent, c.hasIntent = cutIntent(metadata)
	if c.hasIntent {
		c.g.r.Info("the partition's previous owner was storing a gathering it did not commit",
			"topic", c.Topic, "partition", c.Partition, "first", c.intent.First, "last", c.intent.Last)
	}
	c.base = metadata
	c.dedup, err = decodeDedupState(metadata, c.Start)
	if err != nil {
		c.g.r.Warn("cannot read the committed deduplication state; starting without it", "topic", c.Topic, "partition", c.Partition, "error", err)
	}
	return nil
}

// idWindow remembers the IDs of the last n messages handled, with their
// offsets, so that a window kept from an earlier claim can forget what is
// to be read again.
type idWindow struct {
	ring []seenID
	next int // where the next ID goes
	size int
	set  map[string]struct{}
}

type seenID struct {
	id     string
	offset int64
}

func newIDWindow(n int) *idWindow {
	return &idWindow{ring: make([]seenID, n), set: make(map[string]struct{}, n)}
}

func (w *idWindow) has(id string) bool { _, ok := w.set[id]; return ok }

func (w *idWindow) add(id string, offset int64) {
	if w.size == len(w.ring) {
		delete(w.set, w.ring[w.next].id)
	} else {
		w.size++
	}
	w.ring[w.next] = seenID{id, offset}
	w.set[id] = struct{}{}
	w.next = (w.next + 1) % len(w.ring)
}

// rewind forgets the messages at offset start and after: a claim starting
// at start reads them again, and they are not copies of themselves.
func (w *idWindow) rewind(start int64) {
	for w.size > 0 {
		last := (w.next - 1 + len(w.ring)) % len(w.ring)
		if w.ring[last].offset < start {
			return
		}
		delete(w.set, w.ring[last].id)
		w.ring[last] = seenID{}
		w.next, w.size = last, w.size-1
	}
}
