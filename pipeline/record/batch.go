package record

import "sync"

// Batch is a reusable run of records handed from one stage to the next. The
// receiver owns it until it calls Release, which returns it to the pool with
// its capacity kept, so steady-state batching allocates nothing.
type Batch struct {
	Flows []Flow
}

var batchPool = sync.Pool{New: func() any { return &Batch{} }}

// GetBatch takes an empty batch from the pool.
func GetBatch() *Batch { return batchPool.Get().(*Batch) }

// Release empties the batch and returns it to the pool. The caller must not
// use it afterwards.
func (b *Batch) Release() {
	b.Flows = b.Flows[:0]
	batchPool.Put(b)
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
