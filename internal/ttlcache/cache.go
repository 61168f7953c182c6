package ttlcache

import (
	"sync"
	"sync/atomic"
	"time"
)

// Cache maps keys to values that expire. It holds at most a fixed number
// of entries; an insert into a full cache evicts by sampled LRU: it looks
// at a few entries, drops the expired ones and, if none was, the least
// recently used of those it saw. Sampling keeps the hit path to a read
// lock and an atomic timestamp, with no list to reorder under an
// exclusive lock, at the price of evicting approximately rather than
// exactly the least recently used entry (exactly, while the cache holds
// no more than the sample).
//
// A nil *Cache holds nothing: Get misses, Put and Len do nothing.
type Cache[K comparable, V any] struct {
	mu  sync.RWMutex
	max int
	m   map[K]*entry[V]
}

type entry[V any] struct {
	val   V
	until time.Time
	// used is when the entry was last stored or hit, in Unix nanoseconds:
	// written under the read lock by concurrent hits, hence atomic.
	used atomic.Int64
}

// sample bounds the entries an insert into a full cache looks at.
const sample = 8

// touchEvery is how stale an entry's use time must be before a hit
// refreshes it: a hot entry hit from many goroutines is then written
// rarely, so its cache line is not bounced between cores on every hit.
// It is far below any useful eviction horizon.
const touchEvery = int64(time.Millisecond)

// New returns a cache of at most max entries, or nil (a cache that holds
// nothing) when max < 1.
func New[K comparable, V any](max int) *Cache[K, V] {
	if max < 1 {
		return nil
	}
	return &Cache[K, V]{max: max, m: make(map[K]*entry[V])}
}

// Get returns the value stored for k while now is before its expiry. An
// expired entry is left for an insert to reclaim: removing it here would
// need the exclusive lock on the hit path.
func (c *Cache[K, V]) Get(k K, now time.Time) (V, bool) {
	var zero V
	if c == nil {
		return zero, false
	}
	c.mu.RLock()
	e, ok := c.m[k]
	if !ok || !now.Before(e.until) {
		c.mu.RUnlock()
		return zero, false
	}
	v := e.val
	if t := now.UnixNano(); t-e.used.Load() >= touchEvery {
		e.used.Store(t)
	}
	c.mu.RUnlock()
	return v, true
}

// Put stores v for k until the given time, replacing any value k had. A
// value already expired at now is not stored, so it cannot evict a live
// one.
func (c *Cache[K, V]) Put(k K, v V, until, now time.Time) {
	if c == nil || !now.Before(until) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[k]; ok {
		e.val, e.until = v, until
		e.used.Store(now.UnixNano())
		return
	}
	if len(c.m) >= c.max {
		c.evict(now)
	}
	e := &entry[V]{val: v, until: until}
	e.used.Store(now.UnixNano())
	c.m[k] = e
}

// evict makes room for one entry. Go's map iteration starts at a random
// place, which makes the first entries met a random sample. c.mu must be
// held exclusively.
func (c *Cache[K, V]) evict(now time.Time) {
	var (
		victim K
		oldest int64
		live   bool // whether victim is set
		n      int
	)
	for k, e := range c.m {
		if !now.Before(e.until) {
			delete(c.m, k) // deleting during range is allowed
		} else if u := e.used.Load(); !live || u < oldest {
			victim, oldest, live = k, u, true
		}
		if n++; n >= sample {
			break
		}
	}
	if live && len(c.m) >= c.max {
		delete(c.m, victim)
	}
}

// Len returns the number of entries, expired ones included.
func (c *Cache[K, V]) Len() int {
	if c == nil {
		return 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
