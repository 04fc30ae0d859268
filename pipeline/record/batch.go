package record

import "sync"

// Batch is a reusable run of records handed from one stage to the next. The
// receiver owns it until it calls Release, which returns it to the pool with
// its capacity kept, so steady-state batching allocates nothing.
type Batch struct {
	Flows []Flow
}

var batchPool = sync.Pool{New: func() any { return &Batch{} }}

// freeBatches keeps released batches across garbage collections, which
// empty a sync.Pool: the pipeline holds the batches it gathers until they
// are stored (about 7 of the collector's 8192 records make one insert of
// 50,000), so that without it a busy collector would allocate its batches
// anew after each collection.
var freeBatches = make(chan *Batch, 8)

// GetBatch takes an empty batch from the pool.
func GetBatch() *Batch {
	select {
	case b := <-freeBatches:
		return b
	default:
		return batchPool.Get().(*Batch)
	}
}

// Release empties the batch and returns it to the pool. The caller must not
// use it afterwards.
func (b *Batch) Release() {
	b.Flows = b.Flows[:0]
	select {
	case freeBatches <- b:
	default:
		batchPool.Put(b)
	}
}

// Next extends the batch by one zeroed record and returns it for filling.
func (b *Batch) Next() *Flow {
	if len(b.Flows) < cap(b.Flows) {
		b.Flows = b.Flows[:len(b.Flows)+1]
	} else {
		b.Flows = append(b.Flows, Flow{})
	}
	f := &b.Flows[len(b.Flows)-1]
	f.Reset()
	return f
}

// Len is the number of records in the batch.
func (b *Batch) Len() int { return len(b.Flows) }

// Appender takes the records a decoder makes, filled in place where they
// are kept: Slot returns the record to fill (its contents are left over,
// the decoder resets it), and Commit adds it. A Slot without a Commit since
// returns the same record again, so that a record given up half-decoded is
// simply not committed. A committed record must not be touched again.
type Appender interface {
	Slot() *Flow
	Commit()
}

// Slot returns the record after the batch's last, for an Appender to fill;
// Commit adds it. The batch grows only when full: size it beforehand
// (Reserve) so that its records are not copied as it grows.
func (b *Batch) Slot() *Flow {
	n := len(b.Flows)
	if n == cap(b.Flows) {
		b.Flows = append(b.Flows, Flow{})[:n]
	}
	return &b.Flows[:n+1][n]
}

// Commit adds the record Slot returned.
func (b *Batch) Commit() { b.Flows = b.Flows[:len(b.Flows)+1] }

// Reserve makes room for n records in all, so that filling the batch up to
// them copies none.
func (b *Batch) Reserve(n int) {
	if cap(b.Flows) < n {
		b.Flows = append(make([]Flow, 0, n), b.Flows...)
	}
}

// Emitter is an Appender that fills one reused record and hands it to Emit
// at each Commit, for callers that look at records one at a time. The
// record is only valid during the call.
type Emitter struct {
	Emit func(*Flow)
	f    Flow
}

// Slot returns the reused record.
func (e *Emitter) Slot() *Flow { return &e.f }

// Commit hands the record to Emit.
func (e *Emitter) Commit() { e.Emit(&e.f) }
