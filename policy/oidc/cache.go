package oidc

import (
	"sync"
	"time"
)

// ttlCache is a bounded map from token hashes to values that expire. When
// full, an insert first drops expired entries met in a short scan, else one
// arbitrary entry (Go's map order is random): random eviction needs no
// bookkeeping on the hit path, which is the path that matters here.
type ttlCache[V any] struct {
	mu  sync.RWMutex
	max int
	m   map[[32]byte]ttlEntry[V]
}

type ttlEntry[V any] struct {
	val   V
	until time.Time
}

// evictScan bounds the expired-entry scan of a full cache.
const evictScan = 8

// newTTLCache returns a cache of at most max entries, or nil (a cache that
// holds nothing) when max < 1.
func newTTLCache[V any](max int) *ttlCache[V] {
	if max < 1 {
		return nil
	}
	return &ttlCache[V]{max: max, m: make(map[[32]byte]ttlEntry[V])}
}

func (c *ttlCache[V]) get(k [32]byte, now time.Time) (V, bool) {
	var zero V
	if c == nil {
		return zero, false
	}
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return zero, false
	}
	return e.val, true
}

func (c *ttlCache[V]) put(k [32]byte, v V, until, now time.Time) {
	if c == nil || !now.Before(until) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		n := 0
		var victim [32]byte
		for key, e := range c.m {
			if !now.Before(e.until) {
				delete(c.m, key)
			}
			victim = key
			if n++; n >= evictScan {
				break
			}
		}
		if len(c.m) >= c.max {
			delete(c.m, victim)
		}
	}
	c.m[k] = ttlEntry[V]{val: v, until: until}
}

func (c *ttlCache[V]) len() int {
	if c == nil {
		return 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
