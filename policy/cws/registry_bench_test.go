package cws

import "testing"

// BenchmarkLoad100k loads 100,000 users from a key list; the target is well
// under a second per load.
func BenchmarkLoad100k(b *testing.B) {
	path := writeKeyList(b, 100_000)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Load(Sources{File: path}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLookup100k is the per-request cost of finding a user's key.
func BenchmarkLookup100k(b *testing.B) {
	reg, err := Load(Sources{File: writeKeyList(b, 100_000)})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, ok := reg.Lookup("user054321"); !ok {
			b.Fatal("missing")
		}
	}
}
