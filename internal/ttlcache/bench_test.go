package ttlcache

import (
	"crypto/x509"
	"testing"
	"time"
	"weak"
)

// The hit benchmarks measure the cost the callers' cached paths pay; the
// insert benchmark, the eviction a full cache does on every miss.
//
//	go test -run '^$' -bench . -benchmem ./internal/ttlcache/

func BenchmarkGet(b *testing.B) {
	b.Run("digest", func(b *testing.B) {
		c := New[[32]byte, int](10000)
		c.Put([32]byte{1}, 1, at(100), at(0))
		now := at(1)
		for b.Loop() {
			if _, ok := c.Get([32]byte{1}, now); !ok {
				b.Fatal("miss")
			}
		}
	})
	b.Run("weak", func(b *testing.B) {
		c := New[weak.Pointer[x509.Certificate], int](10000)
		cert := new(x509.Certificate)
		c.Put(weak.Make(cert), 1, at(100), at(0))
		now := at(1)
		for b.Loop() {
			if _, ok := c.Get(weak.Make(cert), now); !ok {
				b.Fatal("miss")
			}
		}
	})
	b.Run("digest/parallel", func(b *testing.B) {
		c := New[[32]byte, int](10000)
		c.Put([32]byte{1}, 1, time.Now().Add(time.Hour), time.Now())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				// A moving clock, as in production, exercises the use-time
				// refresh.
				if _, ok := c.Get([32]byte{1}, time.Now()); !ok {
					b.Error("miss")
					return
				}
			}
		})
	})
}

func BenchmarkPutFull(b *testing.B) {
	c := New[int, int](10000)
	for k := range 10000 {
		c.Put(k, k, at(100), at(0))
	}
	k := 10000
	for b.Loop() {
		c.Put(k, k, at(100), at(1))
		k++
	}
}
