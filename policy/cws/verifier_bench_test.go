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

// Run: see the CWS section of BENCHMARKS.md.

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

// paired times several operations inside each iteration, in turn, and
// reports each one's time and its ratio to the first (the baseline). On a
// shared machine whose load changes from second to second, only operations
// timed side by side compare fairly.
type paired struct {
	names []string
	total []time.Duration
}

func newPaired(names ...string) *paired {
	return &paired{names: names, total: make([]time.Duration, len(names))}
}

// time runs op i and adds its duration.
func (p *paired) time(i int, op func()) {
	start := time.Now()
	op()
	p.total[i] += time.Since(start)
}

// report adds <name>-ns/op, <name>-MB/s (when bytes > 0) and
// <name>/<baseline> metrics.
func (p *paired) report(b *testing.B, n int, bytes int64) {
	for i, name := range p.names {
		per := float64(p.total[i].Nanoseconds()) / float64(n)
		b.ReportMetric(per, name+"-ns/op")
		if bytes > 0 {
			b.ReportMetric(float64(bytes)/per*1e3, name+"-MB/s")
		}
		if i > 0 {
			b.ReportMetric(float64(p.total[i])/float64(p.total[0]), name+"/"+p.names[0])
		}
	}
}

// BenchmarkSmallBody compares verifying a 1 KiB POST end to end (header
// parse, hash, spool, RSA, principal, body replacement) with the bare
// rsa.VerifyPKCS1v15 it contains, timed side by side.
func BenchmarkSmallBody(b *testing.B) {
	content := bytes.Repeat([]byte("x"), 1024)
	digest := sha256.Sum256(content)
	for _, bits := range []int{2048, 4096} {
		b.Run(fmt.Sprintf("bits=%d", bits), func(b *testing.B) {
			key := rsaKey(b, "alice", bits)
			a, err := Sign(key, SHA256, "alice", bytes.NewReader(content))
			if err != nil {
				b.Fatal(err)
			}
			v := benchVerifier(b, key, body.Options{})
			r := httptest.NewRequest(http.MethodPost, "/cws/api", nil)
			header := a.String()
			p := newPaired("bare", "cws")
			n := 0
			for b.Loop() {
				p.time(0, func() {
					if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, digest[:], a.Signature); err != nil {
						b.Fatal(err)
					}
				})
				p.time(1, func() {
					r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(content)), int64(len(content))
					r.Header.Set("Authorization", header)
					req := pipeline.NewRequest(r, nil, testNow)
					if err := v.Verify(context.Background(), req); err != nil {
						b.Fatal(err)
					}
					req.Finish()
				})
				n++
			}
			p.report(b, n, 0)
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

// BenchmarkHashThroughput hashes the same 256 MiB file four ways, side by
// side in each iteration: openssl dgst -sha256 (the baseline, with the CPU's
// SHA instructions), Go's crypto/sha256, body.Spool (hash + temporary file)
// and a whole CWS PUT verification (4096-bit key).
func BenchmarkHashThroughput(b *testing.B) {
	const size = 256 << 20
	path := benchData(b, size)
	openssl := harness.RequireTool(b, "openssl")
	spoolDir := b.TempDir()
	key := rsaKey(b, "alice", 4096)
	a, err := Sign(key, SHA256, "alice", io.LimitReader(newPattern(), size))
	if err != nil {
		b.Fatal(err)
	}
	v := benchVerifier(b, key, body.Options{Max: size, Dir: spoolDir})
	open := func() *os.File {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		return f
	}
	p := newPaired("openssl", "go_sha256", "spool", "cws_verify")
	n := 0
	for b.Loop() {
		p.time(0, func() {
			if out, err := exec.Command(openssl, "dgst", "-sha256", path).CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, out)
			}
		})
		p.time(1, func() {
			f := open()
			defer f.Close()
			if _, err := io.Copy(sha256.New(), f); err != nil {
				b.Fatal(err)
			}
		})
		p.time(2, func() {
			f := open()
			defer f.Close()
			sp, err := body.Spool(f, body.Options{Max: size, Dir: spoolDir, Hashes: []crypto.Hash{crypto.SHA256}})
			if err != nil {
				b.Fatal(err)
			}
			sp.Cleanup()
		})
		p.time(3, func() {
			f := open()
			defer f.Close()
			r := httptest.NewRequest(http.MethodPut, "/cws/api", f)
			r.ContentLength = size
			r.Header.Set("Authorization", a.String())
			req := pipeline.NewRequest(r, nil, testNow)
			if err := v.Verify(context.Background(), req); err != nil {
				b.Fatal(err)
			}
			req.Finish()
		})
		n++
	}
	p.report(b, n, size)
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
