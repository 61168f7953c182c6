package body

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"errors"
	"io"
	"testing"
)

// FuzzSpool checks the invariants for any body and any thresholds: the
// replay is the input, the hash is the input's, and a body over the limit
// is ErrTooLarge.
func FuzzSpool(f *testing.F) {
	f.Add([]byte("hello"), int64(2), int64(10))
	f.Add([]byte{}, int64(0), int64(0))
	f.Add(bytes.Repeat([]byte{0xff}, 300), int64(100), int64(299))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, memory, max int64) {
		memory, max = memory%512, max%1024
		sp, err := Spool(bytes.NewReader(data), Options{Memory: memory, Max: max, Dir: dir, Hashes: []crypto.Hash{crypto.SHA256}})
		limit := max
		if limit <= 0 {
			limit = DefaultMax
		}
		if int64(len(data)) > limit {
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("%d bytes over a limit of %d: err = %v, want ErrTooLarge", len(data), limit, err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		defer sp.Cleanup()
		got, err := io.ReadAll(sp.Reader())
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("replay differs (err %v)", err)
		}
		if sum := sha256.Sum256(data); !bytes.Equal(sp.Sum(crypto.SHA256), sum[:]) {
			t.Fatal("SHA-256 differs")
		}
	})
}
