package cws

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/healthgate/healthgate/policy/body"
	"github.com/healthgate/healthgate/policy/pipeline"
	"github.com/healthgate/healthgate/tests/harness"
)

// Run: go test ./policy/cws -run '^$' -bench . -benchtime 3x (see BENCHMARKS.md).

// benchVerifier returns a Verifier with one user, "alice", of the given size.
func benchVerifier(b *testing.B, key *rsa.PrivateKey, opt body.Options) *Verifier {
	b.Helper()
	_, fp, err := ParsePublicKey(pkixPEM(b, &key.PublicKey))
	if err != nil {
		b.Fatal(err)
	}
	reg, err := NewRegistry(&Key{User: "alice", Public: &key.PublicKey, Fingerprint: fp, Origin: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	v, err := New(Config{Keys: reg, Body: opt})
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// BenchmarkSmallBody compares verifying a 1 KiB POST end to end (header
// parse, hash, spool, RSA, principal, body replacement) with the bare
// rsa.VerifyPKCS1v15 it contains.
func BenchmarkSmallBody(b *testing.B) {
	content := bytes.Repeat([]byte("x"), 1024)
	for _, bits := range []int{2048, 4096} {
		key := rsaKey(b, "alice", bits)
		digest := sha256.Sum256(content)
		a, err := Sign(key, SHA256, "alice", bytes.NewReader(content))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("bits=%d/bare_rsa.VerifyPKCS1v15", bits), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, digest[:], a.Signature); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("bits=%d/cws.Verifier", bits), func(b *testing.B) {
			v := benchVerifier(b, key, body.Options{})
			r := httptest.NewRequest(http.MethodPost, "/cws/api", nil)
			header := a.String()
			b.ReportAllocs()
			for b.Loop() {
				r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(content)), int64(len(content))
				r.Header.Set("Authorization", header)
				req := pipeline.NewRequest(r, nil, testNow)
				if err := v.Verify(context.Background(), req); err != nil {
					b.Fatal(err)
				}
				req.Finish()
			}
		})
	}
}

// benchData writes size bytes of deterministic data to a file once per run.
func benchData(b *testing.B, size int64) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "data")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if _, err := io.Copy(w, io.LimitReader(newPattern(), size)); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// pattern is an endless deterministic stream: a 1 MiB pseudo-random block,
// repeated, so generating it costs a copy.
type pattern struct{ off int }

var patternBlock = func() []byte {
	b := make([]byte, 1<<20)
	x := uint64(0x9e3779b97f4a7c15)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}()

func newPattern() *pattern { return &pattern{} }

func (p *pattern) Read(buf []byte) (int, error) {
	n := copy(buf, patternBlock[p.off:])
	p.off = (p.off + n) % len(patternBlock)
	return n, nil
}

// BenchmarkHashThroughput hashes the same 256 MiB file four ways:
// openssl dgst -sha256 (the baseline, SHA-NI), Go's crypto/sha256, body.Spool
// (hash + temporary file) and a whole CWS PUT verification.
func BenchmarkHashThroughput(b *testing.B) {
	const size = 256 << 20
	path := benchData(b, size)
	openssl := harness.RequireTool(b, "openssl")
	spoolDir := b.TempDir()
	b.Run("openssl_dgst_sha256", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if out, err := exec.Command(openssl, "dgst", "-sha256", path).CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, out)
			}
		}
	})
	b.Run("go_crypto_sha256", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			h := sha256.New()
			if _, err := io.Copy(h, f); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	})
	b.Run("body.Spool_sha256_to_temp_file", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			sp, err := body.Spool(f, body.Options{Max: size, Dir: spoolDir, Hashes: []crypto.Hash{crypto.SHA256}})
			if err != nil {
				b.Fatal(err)
			}
			sp.Cleanup()
			f.Close()
		}
	})
	b.Run("cws.Verifier_PUT", func(b *testing.B) {
		key := rsaKey(b, "alice", 4096)
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		a, err := Sign(key, SHA256, "alice", f)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		v := benchVerifier(b, key, body.Options{Max: size, Dir: spoolDir})
		b.SetBytes(size)
		for b.Loop() {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodPut, "/cws/api", f)
			r.ContentLength = size
			r.Header.Set("Authorization", a.String())
			req := pipeline.NewRequest(r, nil, testNow)
			if err := v.Verify(context.Background(), req); err != nil {
				b.Fatal(err)
			}
			req.Finish()
			f.Close()
		}
	})
}

// BenchmarkPeakMemory1GiB verifies a 1 GiB PUT streamed from a generator
// (no file, no buffer on the client side) and reports the peak growth of
// the Go heap during verification (sampled every millisecond) and the
// process's peak resident set (VmHWM after resetting it).
func BenchmarkPeakMemory1GiB(b *testing.B) {
	const size = 1 << 30
	key := rsaKey(b, "alice", 4096)
	a, err := Sign(key, SHA256, "alice", io.LimitReader(newPattern(), size))
	if err != nil {
		b.Fatal(err)
	}
	v := benchVerifier(b, key, body.Options{Max: 4 << 30, Dir: b.TempDir()})

	var peakHeap, peakRSS uint64
	b.ReportAllocs()
	b.SetBytes(size)
	for b.Loop() {
		runtime.GC()
		base := heapObjects()
		resetPeakRSS()
		stop, peak := sampleHeap()

		r := httptest.NewRequest(http.MethodPut, "/cws/api", io.LimitReader(newPattern(), size))
		r.ContentLength = size
		r.Header.Set("Authorization", a.String())
		req := pipeline.NewRequest(r, nil, testNow)
		if err := v.Verify(context.Background(), req); err != nil {
			b.Fatal(err)
		}
		// Replay to the "upstream": discard, but read it all.
		if n, err := io.Copy(io.Discard, req.HTTP.Body); err != nil || n != size {
			b.Fatalf("replayed %d bytes (%v)", n, err)
		}
		req.Finish()

		stop()
		if p := peak.Load(); p > base && p-base > peakHeap {
			peakHeap = p - base
		}
		peakRSS = max(peakRSS, vmHWM())
	}
	b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MiB")
	if peakRSS > 0 {
		b.ReportMetric(float64(peakRSS)/(1<<20), "peak-RSS-MiB")
	}
}

func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// sampleHeap records the largest live-heap reading until stop is called.
func sampleHeap() (stop func(), peak *atomic.Uint64) {
	peak = new(atomic.Uint64)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			if h := heapObjects(); h > peak.Load() {
				peak.Store(h)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-finished }, peak
}

// resetPeakRSS resets the kernel's resident-set high-water mark (Linux).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// vmHWM is the peak resident set in bytes since the last reset, or 0.
func vmHWM() uint64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
