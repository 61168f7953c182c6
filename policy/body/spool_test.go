package body

import (
	"bytes"
	"crypto"
	_ "crypto/sha1"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// payload returns n deterministic bytes that are not all alike.
func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// entries lists the names in dir.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// openFiles counts the descriptors this process holds on spool files. The
// files are unlinked as soon as they exist, so entries cannot show a leak;
// an open descriptor (holding the disk space) can.
func openFiles(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	n := 0
	for _, fd := range fds {
		if target, err := os.Readlink("/proc/self/fd/" + fd.Name()); err == nil && strings.Contains(target, "healthgate-body-") {
			n++
		}
	}
	return n
}

func readAll(t *testing.T, rc io.ReadCloser) []byte {
	t.Helper()
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading the replay: %v", err)
	}
	return b
}

func TestSpoolKeepsExactBytesAndHashes(t *testing.T) {
	tests := []struct {
		name     string
		size     int
		memory   int64
		inMemory bool
	}{
		{"an empty body stays in memory", 0, 1024, true},
		{"a small body stays in memory", 100, 1024, true},
		{"a body exactly at the memory threshold stays in memory", 1024, 1024, true},
		{"a body one byte over the memory threshold spills to a file", 1025, 1024, false},
		{"a body many copy buffers long spills to a file", 5*copyBuffer + 3, 1024, false},
		{"a negative memory threshold always spills", 10, -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			data := payload(tt.size)
			sp, err := Spool(bytes.NewReader(data), Options{Memory: tt.memory, Dir: dir, Hashes: []crypto.Hash{crypto.SHA256, crypto.SHA1}})
			if err != nil {
				t.Fatal(err)
			}
			defer sp.Cleanup()
			if got := sp.InMemory(); got != tt.inMemory {
				t.Errorf("InMemory() = %v, want %v", got, tt.inMemory)
			}
			if sp.Size() != int64(tt.size) {
				t.Errorf("Size() = %d, want %d", sp.Size(), tt.size)
			}
			want256 := sha256.Sum256(data)
			if diff := cmp.Diff(want256[:], sp.Sum(crypto.SHA256)); diff != "" {
				t.Errorf("SHA-256 (-want +got):\n%s", diff)
			}
			h1 := crypto.SHA1.New()
			h1.Write(data)
			if diff := cmp.Diff(h1.Sum(nil), sp.Sum(crypto.SHA1)); diff != "" {
				t.Errorf("SHA-1 (-want +got):\n%s", diff)
			}
			if sp.Sum(crypto.SHA512) != nil {
				t.Error("Sum of a hash not asked for is not nil")
			}
			// Twice: every Reader starts from the first byte.
			for range 2 {
				if got := readAll(t, sp.Reader()); !bytes.Equal(got, data) {
					t.Fatalf("replay differs: %d bytes, want %d", len(got), len(data))
				}
			}
			// The temporary file is unlinked as soon as it exists.
			if names := entries(t, dir); len(names) != 0 {
				t.Errorf("temporary files left in %s: %v", dir, names)
			}
		})
	}
}

func TestSpoolRefusesBodiesOverTheLimit(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		max     int64
		wantErr error
	}{
		{"a body exactly at the limit is accepted", 2048, 2048, nil},
		{"a body one byte over the limit is too large", 2049, 2048, ErrTooLarge},
		{"a body far over the limit is too large", 10 * copyBuffer, 2048, ErrTooLarge},
		{"a body over a limit above the memory threshold is too large", 4097, 4096, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			before := openFiles(t)
			sp, err := Spool(bytes.NewReader(payload(tt.size)), Options{Memory: 1024, Max: tt.max, Dir: dir})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil {
				sp.Cleanup()
			} else if sp != nil {
				t.Error("a failed Spool returned a Spooled")
			}
			if names := entries(t, dir); len(names) != 0 {
				t.Errorf("temporary files left in %s: %v", dir, names)
			}
			if n := openFiles(t) - before; n != 0 {
				t.Errorf("%d spool files still open", n)
			}
		})
	}
}

// unreadable fails the test if anything reads it.
type unreadable struct{ t *testing.T }

func (u unreadable) Read([]byte) (int, error) {
	u.t.Error("the body was read although its declared length is over the limit")
	return 0, io.EOF
}
func (unreadable) Close() error { return nil }

func TestSpoolRequest(t *testing.T) {
	t.Run("a declared Content-Length over the limit fails without reading", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Body, r.ContentLength = unreadable{t}, 4096
		_, err := SpoolRequest(r, Options{Max: 4095})
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err = %v, want ErrTooLarge", err)
		}
	})
	t.Run("a limit set by http.MaxBytesReader counts as too large", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(payload(100)))
		r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 50)
		r.ContentLength = -1
		_, err := SpoolRequest(r, Options{Max: 1000})
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err = %v, want ErrTooLarge", err)
		}
	})
	t.Run("a request without a body spools nothing", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		sp, err := SpoolRequest(r, Options{Hashes: []crypto.Hash{crypto.SHA256}})
		if err != nil {
			t.Fatal(err)
		}
		defer sp.Cleanup()
		empty := sha256.Sum256(nil)
		if sp.Size() != 0 || !bytes.Equal(sp.Sum(crypto.SHA256), empty[:]) {
			t.Errorf("size %d, sum %x; want 0 and the SHA-256 of nothing", sp.Size(), sp.Sum(crypto.SHA256))
		}
	})
	t.Run("Replace gives the request the spooled bytes with a known length", func(t *testing.T) {
		data := payload(3000)
		r := httptest.NewRequest(http.MethodPost, "/", iotest.HalfReader(bytes.NewReader(data)))
		r.ContentLength, r.TransferEncoding = -1, []string{"chunked"}
		sp, err := SpoolRequest(r, Options{Memory: 1000, Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer sp.Cleanup()
		sp.Replace(r)
		if r.ContentLength != 3000 || r.TransferEncoding != nil {
			t.Errorf("ContentLength %d, TransferEncoding %v; want 3000 and none", r.ContentLength, r.TransferEncoding)
		}
		if got := readAll(t, r.Body); !bytes.Equal(got, data) {
			t.Error("Body differs from what was spooled")
		}
		again, err := r.GetBody()
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, again); !bytes.Equal(got, data) {
			t.Error("GetBody differs from what was spooled")
		}
	})
	t.Run("Replace with an empty body sets http.NoBody", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(""))
		sp, err := SpoolRequest(r, Options{})
		if err != nil {
			t.Fatal(err)
		}
		sp.Replace(r)
		if r.Body != http.NoBody || r.ContentLength != 0 {
			t.Errorf("Body %T, ContentLength %d; want http.NoBody and 0", r.Body, r.ContentLength)
		}
	})
}

func TestSpoolFailures(t *testing.T) {
	t.Run("a read error is reported as such and leaves no file", func(t *testing.T) {
		dir := t.TempDir()
		boom := errors.New("connection reset")
		before := openFiles(t)
		r := io.MultiReader(bytes.NewReader(payload(5000)), iotest.ErrReader(boom))
		_, err := Spool(r, Options{Memory: 1000, Dir: dir})
		if !errors.Is(err, boom) || errors.Is(err, ErrTooLarge) || errors.Is(err, ErrStorage) {
			t.Fatalf("err = %v, want the read error only", err)
		}
		if names := entries(t, dir); len(names) != 0 {
			t.Errorf("temporary files left: %v", names)
		}
		if n := openFiles(t) - before; n != 0 {
			t.Errorf("%d spool files still open after a read error", n)
		}
	})
	t.Run("a missing temporary directory is a storage error", func(t *testing.T) {
		_, err := Spool(bytes.NewReader(payload(5000)), Options{Memory: 1000, Dir: t.TempDir() + "/missing"})
		if !errors.Is(err, ErrStorage) {
			t.Fatalf("err = %v, want ErrStorage", err)
		}
	})
	t.Run("a hash that is not linked in is refused", func(t *testing.T) {
		_, err := Spool(strings.NewReader("x"), Options{Hashes: []crypto.Hash{crypto.MD4}})
		if err == nil || !strings.Contains(err.Error(), "not available") {
			t.Fatalf("err = %v, want a hash-not-available error", err)
		}
	})
}

func TestSpooledCleanup(t *testing.T) {
	t.Run("cleanup is idempotent and closes the file", func(t *testing.T) {
		sp, err := Spool(bytes.NewReader(payload(5000)), Options{Memory: 10, Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		before := openFiles(t)
		r := sp.Reader()
		sp.Cleanup()
		sp.Cleanup()
		if _, err := io.ReadAll(r); err == nil {
			t.Error("reading a spilled body after Cleanup succeeded")
		}
		if n := before - openFiles(t); n != 1 {
			t.Errorf("Cleanup closed %d spool files, want 1", n)
		}
	})
	t.Run("a closed reader stops without harming others", func(t *testing.T) {
		data := payload(5000)
		sp, err := Spool(bytes.NewReader(data), Options{Memory: 10, Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer sp.Cleanup()
		r := sp.Reader()
		r.Close()
		if _, err := r.Read(make([]byte, 1)); !errors.Is(err, os.ErrClosed) {
			t.Errorf("Read after Close: %v, want os.ErrClosed", err)
		}
		if got := readAll(t, sp.Reader()); !bytes.Equal(got, data) {
			t.Error("another reader was harmed")
		}
	})
	t.Run("concurrent readers each see the whole body", func(t *testing.T) {
		data := payload(200_000)
		sp, err := Spool(bytes.NewReader(data), Options{Memory: 10, Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer sp.Cleanup()
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				b, err := io.ReadAll(iotest.OneByteReader(io.LimitReader(sp.Reader(), 1<<20)))
				if err != nil || !bytes.Equal(b, data) {
					t.Errorf("concurrent replay differs (err %v)", err)
				}
			})
		}
		wg.Wait()
	})
}
