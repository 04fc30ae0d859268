package record

import (
	"sync"
	"sync/atomic"
)

// maxInterned bounds the intern table: enrichment values (names, sites,
// cities, AS organisations) are few, but a producer sending a new string in
// every record must not grow a consumer's memory without end. At most
// 262,144 strings of at most 255 bytes (the wire's limit): 64 MiB and the
// map, in the worst case.
const maxInterned = 1 << 18

// interned holds the distinct strings decoded from the wire, so that a
// consumer's records point at one copy of each and decoding allocates only
// the first time a value is seen.
var interned struct {
	mu       sync.RWMutex
	m        map[string]string
	overflow atomic.Uint64
}

// Intern returns a string equal to b, shared with every other caller that
// interned the same bytes. Once the table holds maxInterned strings, new
// values are copied instead, and counted (InternOverflows).
func Intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	interned.mu.RLock()
	s, ok := interned.m[string(b)]
	interned.mu.RUnlock()
	if ok {
		return s
	}
	interned.mu.Lock()
	defer interned.mu.Unlock()
	if s, ok := interned.m[string(b)]; ok {
		return s
	}
	s = string(b)
	if len(interned.m) >= maxInterned {
		interned.overflow.Add(1)
		return s
	}
	if interned.m == nil {
		interned.m = make(map[string]string)
	}
	interned.m[s] = s
	return s
}

// InternOverflows counts strings copied because the intern table was full.
func InternOverflows() uint64 { return interned.overflow.Load() }
