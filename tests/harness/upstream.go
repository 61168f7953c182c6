package harness

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// Upstream is a plain-HTTP upstream that records every request it receives:
// what the gateway let through, exactly as it arrived.
type Upstream struct {
	// Addr is host:port, for `reverse_proxy`.
	Addr string

	mu      sync.Mutex
	reqs    []*Received
	handler http.HandlerFunc
}

// Received is a request as the upstream saw it. Bodies up to 1 MiB are
// kept; every body is hashed.
type Received struct {
	Method     string
	URI        string
	Header     http.Header
	Body       []byte
	BodySHA256 string
	BodyLen    int64
}

const keepBody = 1 << 20

// NewUpstream starts an upstream that answers 200 with a JSON echo of the
// method, path and headers, until Handle sets another answer.
func NewUpstream(t testing.TB) *Upstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &Upstream{Addr: ln.Addr().String()}
	srv := &http.Server{Handler: u, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) //nolint:errcheck
	t.Cleanup(func() { srv.Close() })
	return u
}

// Handle sets how the upstream answers; the request is recorded first, and
// r.Body still holds a kept body.
func (u *Upstream) Handle(h http.HandlerFunc) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.handler = h
}

func (u *Upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := sha256.New()
	var kept bytes.Buffer
	n, _ := io.Copy(io.MultiWriter(h, &limitedWriter{w: &kept, n: keepBody}), r.Body)
	rec := &Received{
		Method: r.Method, URI: r.RequestURI, Header: r.Header.Clone(),
		BodySHA256: hex.EncodeToString(h.Sum(nil)), BodyLen: n,
	}
	if n <= keepBody {
		rec.Body = kept.Bytes()
	}
	u.mu.Lock()
	u.reqs = append(u.reqs, rec)
	handler := u.handler
	u.mu.Unlock()
	if handler != nil {
		r.Body = io.NopCloser(bytes.NewReader(rec.Body))
		handler(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "uri": r.RequestURI})
}

// Requests returns everything received so far.
func (u *Upstream) Requests() []*Received {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]*Received(nil), u.reqs...)
}

// Last returns the most recent request, or nil.
func (u *Upstream) Last() *Received {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		return nil
	}
	return u.reqs[len(u.reqs)-1]
}

// Count returns how many requests arrived.
func (u *Upstream) Count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.reqs)
}

type limitedWriter struct {
	w io.Writer
	n int64
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(int64(len(p)), l.n)
		l.w.Write(p[:k]) //nolint:errcheck
		l.n -= k
	}
	return len(p), nil
}
