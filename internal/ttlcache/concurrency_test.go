package ttlcache

import (
	"sync"
	"testing"
	"time"
)

// TestConcurrentUse hammers a small cache from several goroutines, so that
// hits, replacements and evictions interleave; run it with -race. Every
// value is a function of its key, so a hit returning another key's value
// shows a torn or misfiled entry.
func TestConcurrentUse(t *testing.T) {
	const max, keys, workers, rounds = 16, 64, 8, 2000
	c := New[int, int](max)
	var wg sync.WaitGroup
	errs := make(chan string, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				k := (i*7 + w*13) % keys
				now := at(i % 50)
				if v, ok := c.Get(k, now); ok && v != k*k {
					errs <- "wrong value"
					return
				}
				c.Put(k, k*k, now.Add(30*time.Second), now)
				_ = c.Len()
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	if n := c.Len(); n > max {
		t.Fatalf("Len %d, bound %d", n, max)
	}
}
