package record

import (
	"math/bits"
	"sync"
	"sync/atomic"
)

// FeedSet is a set of threat-intelligence feeds, one bit per feed registered
// with RegisterFeed. A bit set rather than a list of names keeps the record
// fixed-size; the names are looked up when the record is written or encoded.
type FeedSet uint64

// Limits of the registry: how many distinct feed names a process can
// register, and how long a name can be (so that a record's encoding stays
// bounded).
const (
	MaxFeeds       = 64
	MaxFeedNameLen = 64
)

// feedRegistry maps feed names to bits, for the life of the process: a
// record's bits mean the same feeds everywhere in the process, across
// reloads of the feeds themselves.
var feedRegistry struct {
	mu     sync.Mutex
	byName map[string]FeedSet
	// names[i] is bit i's name, written once before count covers it.
	names [MaxFeeds]string
	count atomic.Int32
}

// RegisterFeed returns the bit of the feed named name, registering it on
// first use. It fails (false) for a name that is empty or longer than
// MaxFeedNameLen, and when MaxFeeds names are already registered.
func RegisterFeed(name string) (FeedSet, bool) {
	if name == "" || len(name) > MaxFeedNameLen {
		return 0, false
	}
	feedRegistry.mu.Lock()
	defer feedRegistry.mu.Unlock()
	if bit, ok := feedRegistry.byName[name]; ok {
		return bit, true
	}
	n := feedRegistry.count.Load()
	if n == MaxFeeds {
		return 0, false
	}
	if feedRegistry.byName == nil {
		feedRegistry.byName = make(map[string]FeedSet)
	}
	bit := FeedSet(1) << n
	feedRegistry.names[n] = name
	feedRegistry.byName[name] = bit
	feedRegistry.count.Store(n + 1)
	return bit, true
}

// lookupFeed returns the bit of an already registered feed name without
// allocating: the wire decoder's path.
func lookupFeed(name []byte) (FeedSet, bool) {
	feedRegistry.mu.Lock()
	bit, ok := feedRegistry.byName[string(name)]
	feedRegistry.mu.Unlock()
	return bit, ok
}

// FeedBit registers (when new) the feed named by name and returns its bit;
// the wire decoder calls it with bytes it does not keep.
func FeedBit(name []byte) (FeedSet, bool) {
	if bit, ok := lookupFeed(name); ok {
		return bit, true
	}
	return RegisterFeed(string(name))
}

// Len is the number of registered feeds in the set: the names Each yields.
func (s FeedSet) Len() int {
	registered := FeedSet(1)<<feedRegistry.count.Load() - 1 // all ones at 64: the shift gives 0
	return bits.OnesCount64(uint64(s & registered))
}

// Each calls fn with the name of every feed in the set, lowest bit first.
func (s FeedSet) Each(fn func(name string)) {
	registered := feedRegistry.count.Load()
	for s != 0 {
		i := bits.TrailingZeros64(uint64(s))
		s &^= 1 << i
		if int32(i) < registered {
			fn(feedRegistry.names[i])
		}
	}
}

// Pop removes the lowest feed from the set and returns the rest and the
// removed feed's name ("" for a bit no feed is registered for).
func (s FeedSet) Pop() (FeedSet, string) {
	if s == 0 {
		return 0, ""
	}
	i := bits.TrailingZeros64(uint64(s))
	s &^= 1 << i
	if int32(i) < feedRegistry.count.Load() {
		return s, feedRegistry.names[i]
	}
	return s, ""
}

// Names appends the names of the feeds in the set to dst.
func (s FeedSet) Names(dst []string) []string {
	s.Each(func(name string) { dst = append(dst, name) })
	return dst
}
