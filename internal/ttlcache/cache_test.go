package ttlcache

import (
	"crypto/x509"
	"runtime"
	"testing"
	"time"
	"weak"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// at returns t0 plus s seconds: the tests' injected clock.
func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

// op is one step of a table test: a put (until set) or a get.
type op struct {
	put   bool
	key   string
	val   int
	until int // put: expiry, seconds after t0
	now   int // seconds after t0
	want  int // get: the value expected, or 0 for a miss
}

func TestCache(t *testing.T) {
	tests := []struct {
		name    string
		max     int
		ops     []op
		wantLen int
	}{
		{
			name: "a value is served until its expiry, exclusive",
			max:  4,
			ops: []op{
				{put: true, key: "a", val: 1, until: 10, now: 0},
				{key: "a", now: 0, want: 1},
				{key: "a", now: 9, want: 1},
				{key: "a", now: 10},
				{key: "a", now: 11},
				{key: "b", now: 0},
			},
			wantLen: 1, // expired entries stay until an insert reclaims them
		},
		{
			name: "a value already expired is not stored",
			max:  4,
			ops: []op{
				{put: true, key: "a", val: 1, until: 5, now: 5},
				{put: true, key: "b", val: 2, until: 4, now: 5},
				{key: "a", now: 0},
				{key: "b", now: 0},
			},
		},
		{
			name: "a put replaces the value and the expiry without evicting",
			max:  2,
			ops: []op{
				{put: true, key: "a", val: 1, until: 10, now: 0},
				{put: true, key: "b", val: 2, until: 10, now: 0},
				{put: true, key: "a", val: 3, until: 20, now: 1},
				{key: "a", now: 15, want: 3},
				{key: "b", now: 5, want: 2},
			},
			wantLen: 2,
		},
		{
			name: "a full cache evicts the least recently used",
			max:  3,
			ops: []op{
				{put: true, key: "a", val: 1, until: 100, now: 0},
				{put: true, key: "b", val: 2, until: 100, now: 1},
				{put: true, key: "c", val: 3, until: 100, now: 2},
				{key: "a", now: 3, want: 1}, // b is now the least recent
				{put: true, key: "d", val: 4, until: 100, now: 4},
				{key: "b", now: 5},
				{key: "a", now: 5, want: 1},
				{key: "c", now: 5, want: 3},
				{key: "d", now: 5, want: 4},
			},
			wantLen: 3,
		},
		{
			name: "a full cache drops expired entries before live ones",
			max:  3,
			ops: []op{
				{put: true, key: "a", val: 1, until: 100, now: 0},
				{put: true, key: "b", val: 2, until: 5, now: 1},
				{put: true, key: "c", val: 3, until: 5, now: 2},
				{key: "b", now: 3, want: 2}, // recent, but about to expire
				{put: true, key: "d", val: 4, until: 100, now: 6},
				{key: "a", now: 7, want: 1},
				{key: "d", now: 7, want: 4},
			},
			wantLen: 2, // b and c both went
		},
		{
			name: "a cache of one keeps the newest",
			max:  1,
			ops: []op{
				{put: true, key: "a", val: 1, until: 100, now: 0},
				{put: true, key: "b", val: 2, until: 100, now: 1},
				{key: "a", now: 2},
				{key: "b", now: 2, want: 2},
			},
			wantLen: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New[string, int](tt.max)
			for i, o := range tt.ops {
				if o.put {
					c.Put(o.key, o.val, at(o.until), at(o.now))
					continue
				}
				got, ok := c.Get(o.key, at(o.now))
				if o.want == 0 && ok {
					t.Fatalf("op %d: get %q at %d hit %d, want a miss", i, o.key, o.now, got)
				}
				if o.want != 0 && (!ok || got != o.want) {
					t.Fatalf("op %d: get %q at %d = %d, %v; want %d", i, o.key, o.now, got, ok, o.want)
				}
			}
			if n := c.Len(); n != tt.wantLen {
				t.Fatalf("Len %d, want %d", n, tt.wantLen)
			}
		})
	}
}

func TestNilCacheHoldsNothing(t *testing.T) {
	for _, max := range []int{0, -1} {
		c := New[string, int](max)
		if c != nil {
			t.Fatalf("New(%d) = %p, want nil", max, c)
		}
		c.Put("a", 1, at(10), at(0))
		if v, ok := c.Get("a", at(0)); ok {
			t.Fatalf("New(%d) cache served %d", max, v)
		}
		if n := c.Len(); n != 0 {
			t.Fatalf("New(%d) cache holds %d", max, n)
		}
	}
}

// TestKeys covers the key types the callers use: a weak pointer to the
// connection's certificate and a SHA-256 digest.
func TestKeys(t *testing.T) {
	t.Run("weak pointers compare by the object they point to", func(t *testing.T) {
		c := New[weak.Pointer[x509.Certificate], string](4)
		a, b := new(x509.Certificate), new(x509.Certificate)
		c.Put(weak.Make(a), "a", at(10), at(0))
		if v, ok := c.Get(weak.Make(a), at(1)); !ok || v != "a" {
			t.Fatalf("same certificate: %q, %v", v, ok)
		}
		if v, ok := c.Get(weak.Make(b), at(1)); ok {
			t.Fatalf("another certificate got %q", v)
		}
		runtime.KeepAlive(a)
		runtime.KeepAlive(b)
	})
	t.Run("digests compare by value", func(t *testing.T) {
		c := New[[32]byte, string](4)
		c.Put([32]byte{1}, "one", at(10), at(0))
		if v, ok := c.Get([32]byte{1}, at(1)); !ok || v != "one" {
			t.Fatalf("same digest: %q, %v", v, ok)
		}
		if _, ok := c.Get([32]byte{2}, at(1)); ok {
			t.Fatal("another digest hit")
		}
	})
}

// TestSampledEvictionKeepsHotEntries fills a cache far larger than the
// eviction sample, keeps a tenth of it in use and inserts new entries:
// the hot entries must survive. Random eviction would lose about a tenth
// of them per 100 inserts.
func TestSampledEvictionKeepsHotEntries(t *testing.T) {
	const size, hot, inserts = 1000, 100, 300
	c := New[int, int](size)
	for k := range size {
		c.Put(k, k, at(1000), at(0))
	}
	for k := range hot {
		c.Get(k, at(1))
	}
	for k := size; k < size+inserts; k++ {
		c.Put(k, k, at(1000), at(2))
	}
	if n := c.Len(); n != size {
		t.Fatalf("Len %d, want %d", n, size)
	}
	kept := 0
	for k := range hot {
		if _, ok := c.Get(k, at(3)); ok {
			kept++
		}
	}
	if kept < hot-5 {
		t.Fatalf("%d of %d hot entries kept", kept, hot)
	}
}
