package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
	"sluice/pipeline/recordpb"
	"sluice/pipeline/spool"
)

// OverflowConfig is the `queue.overflow:` section: where batches go while
// the in-memory queue is full.
type OverflowConfig struct {
	// MaxBytes bounds the overflow on disk (records in the Kafka message
	// encoding, about 160 bytes each); 0 turns it off, and a full queue
	// then makes the collector wait, as a full overflow does.
	MaxBytes int64 `yaml:"max-bytes"`
}

// minOverflowBytes is the smallest overflow accepted: two segments.
const minOverflowBytes = 2 * overflowSegmentBytes

// overflowSegmentBytes is the overflow's segment size: a segment is
// deleted once every batch in it went back to the queue.
const overflowSegmentBytes = 16 << 20

// SpoolSink is the overflow's spool's label (sluice_pipeline_spool_*{sink}):
// it shares those metrics with the SIEM sinks' spools.
const SpoolSink = "queue-overflow"

// Validate names bad keys.
func (c OverflowConfig) Validate() error {
	if c.MaxBytes != 0 && c.MaxBytes < minOverflowBytes {
		return fmt.Errorf("overflow.max-bytes: must be 0 (off) or at least %d, got %d", int64(minOverflowBytes), c.MaxBytes)
	}
	return nil
}

// overflow holds, on disk, the batches that found the queue full, and puts
// them back in order as the consumer makes room. While it holds any, every
// new batch joins it, behind them: records reach storage in the order they
// were collected (the detections follow the newest stored flow), only later.
//
// A batch put back is acknowledged on disk (the cursor file, synced) as
// soon as it is in the queue; a crash then loses it with the queue's other
// batches, as it would have had it never been spilled. Only a batch stored
// before its acknowledgement reached the disk could be stored again after
// a crash, and a batch in the queue is gathered and inserted for longer
// than the acknowledgement takes.
// Batches still on disk at a stop or a crash go back to the queue when the
// next process starts, before any new one.
type overflow struct {
	logger   *slog.Logger
	spool    *spool.Spool
	maxBytes int64

	// mu orders spills: held while a producer decides where its batch
	// goes and writes it. The reader takes it only to wake producers
	// waiting for room (room); what waits on the disk is counted by the
	// spool, an entry until its acknowledgement.
	mu      sync.Mutex
	encoded []byte        // a spilled batch's encoding, reused; guarded by mu
	room    chan struct{} // closed when the reader took a batch back; guarded by mu
	buf     []byte        // the reader's entry buffer

	stopRead context.CancelFunc
	readDone chan struct{}

	spilled     prometheus.Counter
	returned    prometheus.Counter
	fullWaits   prometheus.Counter
	writeErrors prometheus.Counter
	readErrors  prometheus.Counter
	limiter     *reporter.Limiter
}

func newOverflow(r *reporter.Reporter, cfg OverflowConfig, dir string) (*overflow, error) {
	if dir == "" {
		return nil, errors.New("overflow: no directory")
	}
	sp, err := spool.New(r, spool.Config{
		// The spool's policy never applies: put checks the room first and
		// keeps a batch that does not fit in memory instead of dropping it.
		MaxBytes: cfg.MaxBytes, SegmentBytes: overflowSegmentBytes, Policy: spool.DropNewest,
	}, spool.Dependencies{Dir: dir, Labels: prometheus.Labels{"sink": SpoolSink}})
	if err != nil {
		return nil, fmt.Errorf("overflow: %w", err)
	}
	o := &overflow{logger: r.Logger, spool: sp, maxBytes: cfg.MaxBytes, room: make(chan struct{}), limiter: r.NewLimiter(1, 10*time.Second)}
	m := r.Metrics()
	o.spilled = m.Counter("overflow_records_total", "Records written to the overflow on disk because the queue was full or the overflow held older records.")
	o.returned = m.Counter("overflow_returned_records_total", "Records read back from the overflow into the queue.")
	o.fullWaits = m.Counter("overflow_full_waits_total", "Batches that found the overflow full and waited for it to make room (the collector drops once its own queues fill).")
	o.writeErrors = m.Counter("overflow_write_errors_total", "Batches the overflow could not write (an I/O error); each waited for room in memory instead, ahead of the batches on disk.")
	o.readErrors = m.Counter("overflow_read_errors_total", "Failed attempts to read a batch back from the overflow (retried every 100 ms), and batches that could not be decoded; records of entries failing their checksum are counted in sluice_pipeline_spool_dropped_records_total{policy=\"corrupt\"}.")
	m.GaugeFunc("overflow_batches", "Batches waiting in the overflow on disk.", func() float64 { return float64(o.pendingBatches()) })
	if err := m.Err(); err != nil {
		sp.Stop(context.Background())
		return nil, fmt.Errorf("register overflow metrics: %w", err)
	}
	if n, _ := sp.Pending(); n > 0 {
		r.Info("the queue's overflow holds batches from an earlier run; they are stored first", "batches", n, "dir", dir)
	}
	return o, nil
}

// pendingBatches counts the batches on disk not yet acknowledged back in
// the queue.
func (o *overflow) pendingBatches() int {
	n, _ := o.spool.Pending()
	return n
}

// put hands b on: to ch while nothing waits on the disk, else to the disk,
// behind what waits there. When the disk has no room it waits, in order,
// for the reader to take batches back (room frees a segment at a time),
// or until ctx ends. Only when it cannot write at all (an I/O error), or
// holds nothing and still has no room for b, does b wait for room in ch
// instead, as without an overflow.
func (o *overflow) put(ctx context.Context, ch chan *record.Batch, b *record.Batch) error {
	var encoded []byte // b's encoding, kept while it waits for room
	waited := false
	for {
		o.mu.Lock()
		pending := o.pendingBatches()
		if pending == 0 {
			select {
			case ch <- b:
				o.mu.Unlock()
				return nil
			default:
			}
		}
		value := encoded
		if value == nil {
			o.encoded = o.encoded[:0]
			for i := range b.Flows {
				o.encoded = recordpb.AppendBatchFlow(o.encoded, &b.Flows[i])
			}
			value = o.encoded
		}
		_, used := o.spool.Pending()
		if used+spool.EntrySize(nil, value) <= o.maxBytes {
			err := o.spool.Append(nil, value, len(b.Flows))
			if err == nil {
				o.mu.Unlock()
				o.spilled.Add(float64(len(b.Flows)))
				b.Release()
				return nil
			}
			o.mu.Unlock()
			o.writeErrors.Inc()
			o.limiter.Log(o.logger, "write", "cannot write to the queue's overflow; the batch waits for room in memory, ahead of those on disk", "error", err)
			return send(ctx, ch, b)
		}
		if pending == 0 {
			// Empty, and b does not fit beside the segment still open.
			o.mu.Unlock()
			return send(ctx, ch, b)
		}
		if encoded == nil {
			encoded = slices.Clone(value) // o.encoded is the next producer's once mu is released
		}
		room := o.room
		o.mu.Unlock()
		if !waited {
			waited = true
			o.fullWaits.Inc()
			o.limiter.Log(o.logger, "full", "the queue's overflow is full: the collector waits for storage, and drops once its own queues fill; "+
				"storage is slower than the traffic for longer than the overflow lasts", "max_bytes", o.maxBytes)
		}
		select {
		case <-room:
		case <-ctx.Done():
			return fmt.Errorf("queue put: %w", ctx.Err())
		}
	}
}

// freed wakes the producers waiting for room on the disk.
func (o *overflow) freed() {
	o.mu.Lock()
	close(o.room)
	o.room = make(chan struct{})
	o.mu.Unlock()
}

// start puts the overflow's batches back into ch, in order, as room frees.
func (o *overflow) start(ch chan *record.Batch) {
	ctx, cancel := context.WithCancel(context.Background())
	o.stopRead, o.readDone = cancel, make(chan struct{})
	go func() {
		defer close(o.readDone)
		for ctx.Err() == nil {
			o.readOne(ctx, ch)
		}
	}()
}

// readOne takes the oldest entry from the disk, puts it in ch, then
// acknowledges it on disk. Stopped while ch stays full, it leaves the entry
// unacknowledged, for the next start.
func (o *overflow) readOne(ctx context.Context, ch chan *record.Batch) {
	// Whatever happened, producers waiting for room look again: an entry
	// skipped for its checksum frees room as one read back does.
	defer o.freed()
	e, err := o.spool.Next(ctx, o.buf)
	if err != nil {
		if ctx.Err() == nil && !errors.Is(err, spool.ErrClosed) {
			// A checksum mismatch: the spool skipped the entry and counted
			// its records; or the file could not be read, and it is
			// tried again.
			o.readErrors.Inc()
			o.limiter.Log(o.logger, "read", "cannot read a batch back from the queue's overflow", "error", err)
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
		return
	}
	o.buf = e.Buf
	b := record.GetBatch()
	b.Flows, err = recordpb.UnmarshalBatch(e.Value, b.Flows[:0])
	if err != nil {
		// The checksum held, so the codec wrote it: a newer sluice's
		// records, say. Keep those decoded before the bad one.
		o.readErrors.Inc()
		o.limiter.Log(o.logger, "decode", "cannot decode a batch read back from the queue's overflow; its remaining records are lost", "error", err)
	}
	n := len(b.Flows)
	if n == 0 {
		b.Release()
	} else {
		select {
		case ch <- b:
			o.returned.Add(float64(n))
		case <-ctx.Done():
			b.Release()
			return
		}
	}
	if err := o.spool.AckDurably(e.Pos); err != nil && !errors.Is(err, spool.ErrClosed) {
		o.limiter.Log(o.logger, "cursor", "cannot record on disk that an overflow batch went back to the queue; after a crash the batches since the last good record would be stored again", "error", err)
	}
}

// stopReserve is the part of a stop's deadline left, after the overflow
// stopped emptying, for the consumer to store what the queue then holds
// (queue.batches, a few seconds of inserts).
const stopReserve = 30 * time.Second

// stop waits for the overflow to empty into ch while ctx allows, less
// stopReserve (the consumer still runs), then stops reading and closes the
// spool: what is left stays on disk for the next start.
func (o *overflow) stop(ctx context.Context) error {
	if o.stopRead != nil {
		if deadline, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, deadline.Add(-stopReserve))
			defer cancel()
		}
		for ctx.Err() == nil {
			// room is taken before the count, so a read in between wakes us.
			o.mu.Lock()
			room := o.room
			o.mu.Unlock()
			if o.pendingBatches() == 0 {
				break
			}
			select {
			case <-ctx.Done():
			case <-room:
			}
		}
		o.stopRead()
		<-o.readDone
	}
	if n := o.pendingBatches(); n > 0 {
		o.logger.Warn("stopping with batches in the queue's overflow; they are stored at the next start", "batches", n)
	}
	return o.spool.Stop(context.Background())
}
