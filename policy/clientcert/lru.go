package clientcert

import (
	"container/list"
	"sync"
	"time"
)

// lru is a bounded, concurrency-safe cache whose entries expire. It holds
// at most max entries, evicting the least recently used, so no client can
// grow it without bound.
type lru[K comparable, V any] struct {
	mu  sync.Mutex
	max int
	ll  *list.List // of *lruEntry, most recent first
	m   map[K]*list.Element
}

type lruEntry[K comparable, V any] struct {
	key   K
	val   V
	until time.Time
}

func newLRU[K comparable, V any](max int) *lru[K, V] {
	if max < 1 {
		max = 1
	}
	return &lru[K, V]{max: max, ll: list.New(), m: make(map[K]*list.Element)}
}

// get returns the value stored for k while now is before its expiry.
func (c *lru[K, V]) get(k K, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var zero V
	el, ok := c.m[k]
	if !ok {
		return zero, false
	}
	e := el.Value.(*lruEntry[K, V])
	if !now.Before(e.until) {
		c.ll.Remove(el)
		delete(c.m, k)
		return zero, false
	}
	c.ll.MoveToFront(el)
	return e.val, true
}

// put stores v for k until the given time.
func (c *lru[K, V]) put(k K, v V, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[k]; ok {
		el.Value = &lruEntry[K, V]{key: k, val: v, until: until}
		c.ll.MoveToFront(el)
		return
	}
	c.m[k] = c.ll.PushFront(&lruEntry[K, V]{key: k, val: v, until: until})
	for c.ll.Len() > c.max {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.m, old.Value.(*lruEntry[K, V]).key)
	}
}

// len returns the number of entries, expired ones included.
func (c *lru[K, V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
