package cws

import (
	"bytes"
	"context"
	"crypto/rsa"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/healthgate/healthgate/policy/body"
	"github.com/healthgate/healthgate/policy/identity"
	"github.com/healthgate/healthgate/policy/pipeline"
)

var testNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// testRegistry holds alice and bob (2048-bit).
func testRegistry(t testing.TB) *Registry {
	t.Helper()
	reg, err := Load(Sources{Dir: keyDir(t, map[string][]byte{
		"alice.pem": pkixPEM(t, &rsaKey(t, "alice", 2048).PublicKey),
		"bob.pem":   pkcs1PEM(&rsaKey(t, "bob", 2048).PublicKey),
	})})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// authorization signs content and formats the header value.
func authorization(t testing.TB, key *rsa.PrivateKey, alg Algorithm, user, content string) string {
	t.Helper()
	a, err := Sign(key, alg, user, strings.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	return a.String()
}

// verifyCase is one request through a Verifier.
type verifyCase struct {
	name   string
	method string // default POST
	body   string
	// signed is the content signed; default: body for methods that sign
	// it, "" for the others.
	signed  *string
	signer  string    // key name; default alice
	user    string    // Access; default alice
	alg     Algorithm // header algorithm; default SHA256
	signAlg Algorithm // algorithm signed with; default alg
	// edit changes the request after signing.
	edit func(t *testing.T, r *http.Request)
	cfg  func(c *Config)

	wantStatus int    // 0: verified
	wantReason string // with wantStatus
	wantErr    error  // errors.Is on the returned error
}

func ptr[T any](v T) *T { return &v }

func (c verifyCase) run(t *testing.T, reg *Registry) (*pipeline.Request, error) {
	t.Helper()
	method, alg, user, signer := c.method, c.alg, c.user, c.signer
	if method == "" {
		method = http.MethodPost
	}
	if alg == 0 {
		alg = SHA256
	}
	signAlg := c.signAlg
	if signAlg == 0 {
		signAlg = alg
	}
	if user == "" {
		user = "alice"
	}
	if signer == "" {
		signer = "alice"
	}
	signed := c.body
	if !SignsBody(method) {
		signed = ""
	}
	if c.signed != nil {
		signed = *c.signed
	}
	a := authorization(t, rsaKey(t, signer, 2048), signAlg, user, signed)
	a = strings.Replace(a, signAlg.Scheme(), alg.Scheme(), 1)

	var rb io.Reader
	if c.body != "" {
		rb = strings.NewReader(c.body)
	}
	r := httptest.NewRequest(method, "https://gw.example/cws/api", rb)
	r.Header.Set("Authorization", a)
	if c.edit != nil {
		c.edit(t, r)
	}
	cfg := Config{Keys: reg, Body: body.Options{Memory: 64, Dir: t.TempDir()}}
	if c.cfg != nil {
		c.cfg(&cfg)
	}
	v, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req := pipeline.NewRequest(r, &pipeline.Route{}, testNow)
	return req, v.Verify(context.Background(), req)
}

// checkFailure asserts the status, reason and error kind of a refusal.
func checkFailure(t *testing.T, err error, status int, reason string, kind error) {
	t.Helper()
	var f *pipeline.Failure
	if !errors.As(err, &f) {
		t.Fatalf("err = %v, want a *pipeline.Failure", err)
	}
	if f.Status != status || f.Reason != reason {
		t.Errorf("refused with %d %s, want %d %s (%v)", f.Status, f.Reason, status, reason, f.Err)
	}
	if kind != nil && !errors.Is(err, kind) {
		t.Errorf("err = %v, want it to wrap %v", err, kind)
	}
}

func TestVerifierAccepts(t *testing.T) {
	reg := testRegistry(t)
	big := strings.Repeat("DICOM", 1000) // spills past Memory (64 bytes)
	tests := []verifyCase{
		{name: "a POST with the body signed by the user's key is accepted", body: `{"resourceType":"Patient"}`},
		{name: "a PUT signs its body", method: http.MethodPut, body: "<inmate id='1'/>"},
		{name: "a PATCH signs its body like a POST", method: http.MethodPatch, body: `[{"op":"remove","path":"/a"}]`},
		{name: "a POST with an empty body signs the empty string", body: ""},
		{name: "a GET signs the empty string", method: http.MethodGet},
		{name: "a DELETE signs the empty string", method: http.MethodDelete},
		{name: "a HEAD signs the empty string", method: http.MethodHead},
		{name: "a GET with an empty chunked body is accepted", method: http.MethodGet,
			edit: func(t *testing.T, r *http.Request) { r.Body, r.ContentLength = io.NopCloser(strings.NewReader("")), -1 }},
		{name: "a body larger than the memory threshold is spooled and accepted", method: http.MethodPut, body: big},
		{name: "a PKCS #1 key verifies too", user: "bob", signer: "bob", body: "x"},
		{name: "CWS-SHA1 is accepted when enabled site-wide", alg: SHA1, body: "legacy",
			cfg: func(c *Config) { c.AllowSHA1 = true }},
		{name: "CWS-SHA1 is accepted from a user it is enabled for", alg: SHA1, body: "legacy",
			cfg: func(c *Config) { c.SHA1Users = []string{"alice"} }},
		{name: "a body exactly at the limit is accepted", body: strings.Repeat("a", 100),
			cfg: func(c *Config) { c.Body.Max = 100 }},
		{name: "with replay protection, a first use with a current Date is accepted", body: "once",
			cfg: func(c *Config) { c.Replay, _ = NewReplayGuard(5*time.Minute, 10) },
			edit: func(t *testing.T, r *http.Request) {
				r.Header.Set("Date", testNow.Add(-4*time.Minute).Format(http.TimeFormat))
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := tt.run(t, reg)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			user := tt.user
			if user == "" {
				user = "alice"
			}
			want := &identity.Facet{Kind: identity.User, ID: user, Proof: identity.ProofCWS, Source: "cws"}
			if diff := cmp.Diff(want, req.Principal.User); diff != "" {
				t.Errorf("facet (-want +got):\n%s", diff)
			}
			got, err := io.ReadAll(req.HTTP.Body)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.body || req.HTTP.ContentLength != int64(len(tt.body)) {
				t.Errorf("upstream body %d bytes (Content-Length %d), want the %d verified bytes", len(got), req.HTTP.ContentLength, len(tt.body))
			}
			req.Finish()
		})
	}
}

func TestVerifierRefuses(t *testing.T) {
	reg := testRegistry(t)
	const b = `{"resourceType":"Patient","id":"1"}`
	setAuth := func(v string) func(*testing.T, *http.Request) {
		return func(_ *testing.T, r *http.Request) { r.Header.Set("Authorization", v) }
	}
	replayOn := func(c *Config) { c.Replay, _ = NewReplayGuard(5*time.Minute, 10) }
	withDate := func(d time.Time) func(*testing.T, *http.Request) {
		return func(_ *testing.T, r *http.Request) { r.Header.Set("Date", d.Format(http.TimeFormat)) }
	}
	tests := []verifyCase{
		{name: "a body changed by one byte is refused", body: b, signed: ptr(b[:len(b)-1] + "]"),
			wantStatus: 401, wantReason: ReasonSignatureInvalid, wantErr: ErrBadSignature},
		{name: "a signature made with another user's key is refused", body: b, signer: "bob",
			wantStatus: 401, wantReason: ReasonSignatureInvalid, wantErr: ErrBadSignature},
		{name: "a SHA-1 signature sent as CWS-SHA256 is refused", body: b, signAlg: SHA1,
			wantStatus: 401, wantReason: ReasonSignatureInvalid, wantErr: ErrBadSignature},
		{name: "a SHA-256 signature sent as CWS-SHA1 is refused even with SHA-1 on", body: b, alg: SHA1, signAlg: SHA256,
			cfg:        func(c *Config) { c.AllowSHA1 = true },
			wantStatus: 401, wantReason: ReasonSignatureInvalid, wantErr: ErrBadSignature},
		{name: "CWS-SHA1 is refused when not enabled", body: b, alg: SHA1,
			wantStatus: 401, wantReason: ReasonAlgorithmRefused, wantErr: ErrSHA1Disabled},
		{name: "CWS-SHA1 is refused from a user it is not enabled for", body: b, alg: SHA1,
			cfg:        func(c *Config) { c.SHA1Users = []string{"bob"} },
			wantStatus: 401, wantReason: ReasonAlgorithmRefused, wantErr: ErrSHA1Disabled},
		{name: "an unknown CWS algorithm is refused", body: b,
			edit:       setAuth("CWS-SHA512 Access=alice, Signature=" + sigB64),
			wantStatus: 401, wantReason: ReasonAlgorithmRefused, wantErr: ErrUnsupportedAlgorithm},
		{name: "a truncated signature is refused", body: b,
			edit: func(t *testing.T, r *http.Request) {
				a, err := ParseAuthorization(r.Header.Get("Authorization"))
				if err != nil {
					t.Fatal(err)
				}
				a.Signature = a.Signature[:len(a.Signature)-3]
				r.Header.Set("Authorization", a.String())
			},
			wantStatus: 401, wantReason: ReasonSignatureInvalid, wantErr: ErrBadSignature},
		{name: "a signature that is not base64 is refused", body: b,
			edit:       setAuth("CWS-SHA256 Access=alice, Signature=not*base64!"),
			wantStatus: 401, wantReason: ReasonMalformed, wantErr: ErrMalformed},
		{name: "an unknown user is refused like a bad signature", body: b, user: "mallory",
			wantStatus: 401, wantReason: ReasonSignatureInvalid, wantErr: ErrUnknownUser},
		{name: "an extra header part is refused", body: b,
			edit: func(_ *testing.T, r *http.Request) {
				r.Header.Set("Authorization", r.Header.Get("Authorization")+", Created=1")
			},
			wantStatus: 401, wantReason: ReasonMalformed, wantErr: ErrMalformed},
		{name: "a missing Signature part is refused", body: b,
			edit:       setAuth("CWS-SHA256 Access=alice"),
			wantStatus: 401, wantReason: ReasonMalformed, wantErr: ErrMalformed},
		{name: "a second Authorization header is refused", body: b,
			edit:       func(_ *testing.T, r *http.Request) { r.Header.Add("Authorization", "Bearer x.y.z") },
			wantStatus: 401, wantReason: ReasonMalformed, wantErr: ErrSeveralHeaders},
		{name: "a GET that carries a body is refused", method: http.MethodGet,
			edit: func(_ *testing.T, r *http.Request) {
				r.Body, r.ContentLength = io.NopCloser(strings.NewReader(b)), int64(len(b))
			},
			wantStatus: 401, wantReason: ReasonBodyNotAllowed, wantErr: ErrBodyNotAllowed},
		{name: "a GET that carries a chunked body is refused", method: http.MethodGet,
			edit: func(_ *testing.T, r *http.Request) {
				r.Body, r.ContentLength = io.NopCloser(strings.NewReader(b)), -1
			},
			wantStatus: 401, wantReason: ReasonBodyNotAllowed, wantErr: ErrBodyNotAllowed},
		{name: "a DELETE that carries a body is refused", method: http.MethodDelete,
			edit: func(_ *testing.T, r *http.Request) {
				r.Body, r.ContentLength = io.NopCloser(strings.NewReader(b)), int64(len(b))
			},
			wantStatus: 401, wantReason: ReasonBodyNotAllowed, wantErr: ErrBodyNotAllowed},
		{name: "a body over the limit is refused with 413", body: strings.Repeat("a", 101),
			cfg:        func(c *Config) { c.Body.Max = 100 },
			wantStatus: 413, wantReason: ReasonBodyTooLarge, wantErr: body.ErrTooLarge},
		{name: "a chunked body over the limit is refused with 413", body: strings.Repeat("a", 101),
			cfg:        func(c *Config) { c.Body.Max = 100 },
			edit:       func(_ *testing.T, r *http.Request) { r.ContentLength = -1 },
			wantStatus: 413, wantReason: ReasonBodyTooLarge, wantErr: body.ErrTooLarge},
		{name: "a body that breaks off is a bad request", body: b,
			edit: func(_ *testing.T, r *http.Request) {
				r.Body = io.NopCloser(io.MultiReader(strings.NewReader("{"), errReader{}))
			},
			wantStatus: 400, wantReason: ReasonBodyUnreadable, wantErr: io.ErrUnexpectedEOF},
		{name: "with replay protection, a missing Date is refused", body: b, cfg: replayOn,
			wantStatus: 401, wantReason: ReasonDateInvalid, wantErr: ErrDateMissing},
		{name: "with replay protection, a Date outside the window is refused", body: b, cfg: replayOn,
			edit:       withDate(testNow.Add(-6 * time.Minute)),
			wantStatus: 401, wantReason: ReasonDateInvalid, wantErr: ErrDateSkew},
		{name: "with replay protection, a Date in the future beyond the window is refused", body: b, cfg: replayOn,
			edit:       withDate(testNow.Add(6 * time.Minute)),
			wantStatus: 401, wantReason: ReasonDateInvalid, wantErr: ErrDateSkew},
		{name: "with replay protection, a Date that is not an HTTP date is refused", body: b, cfg: replayOn,
			edit:       func(_ *testing.T, r *http.Request) { r.Header.Set("Date", "yesterday") },
			wantStatus: 401, wantReason: ReasonDateInvalid, wantErr: ErrDateInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := tt.run(t, reg)
			checkFailure(t, err, tt.wantStatus, tt.wantReason, tt.wantErr)
			if req.Principal.User != nil || req.Principal.Application != nil {
				t.Error("a refused request has a facet")
			}
		})
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func TestVerifierWithoutCWSCredentials(t *testing.T) {
	reg := testRegistry(t)
	v, err := New(Config{Keys: reg})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, auth string }{
		{"a request without Authorization is none of ours", ""},
		{"a Bearer token is none of ours", "Bearer x.y.z"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			if err := v.Verify(context.Background(), pipeline.NewRequest(r, nil, testNow)); !errors.Is(err, pipeline.ErrNoCredentials) {
				t.Fatalf("err = %v, want ErrNoCredentials", err)
			}
		})
	}
}

func TestVerifierFacet(t *testing.T) {
	reg := testRegistry(t)
	t.Run("the facet kind is configurable", func(t *testing.T) {
		req, err := verifyCase{body: "x", cfg: func(c *Config) { c.Facet = identity.Application }}.run(t, reg)
		if err != nil {
			t.Fatal(err)
		}
		want := &identity.Facet{Kind: identity.Application, ID: "alice", Proof: identity.ProofCWS, Source: "cws"}
		if diff := cmp.Diff(want, req.Principal.Application); diff != "" || req.Principal.User != nil {
			t.Errorf("facets (-want +got):\n%s\nuser: %v", diff, req.Principal.User)
		}
	})
	t.Run("a user already proven as someone else conflicts", func(t *testing.T) {
		v, err := New(Config{Keys: reg})
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", authorization(t, rsaKey(t, "alice", 2048), SHA256, "alice", ""))
		req := pipeline.NewRequest(r, nil, testNow)
		req.Principal.User = &identity.Facet{Kind: identity.User, ID: "bob", Proof: identity.ProofJWT}
		checkFailure(t, v.Verify(context.Background(), req), 401, ReasonIdentityConflict, nil)
		var ce *identity.ConflictError
		if err := v.Verify(context.Background(), req); !errors.As(err, &ce) {
			t.Errorf("err = %v, want an *identity.ConflictError", err)
		}
	})
}

func TestVerifierReplay(t *testing.T) {
	reg := testRegistry(t)
	guard, err := NewReplayGuard(5*time.Minute, 2)
	if err != nil {
		t.Fatal(err)
	}
	v, err := New(Config{Keys: reg, Replay: guard})
	if err != nil {
		t.Fatal(err)
	}
	alice := rsaKey(t, "alice", 2048)
	send := func(content string, now time.Time) error {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(content))
		r.Header.Set("Authorization", authorization(t, alice, SHA256, "alice", content))
		r.Header.Set("Date", now.Format(http.TimeFormat))
		req := pipeline.NewRequest(r, nil, now)
		defer req.Finish()
		return v.Verify(context.Background(), req)
	}
	t.Run("a first use is accepted", func(t *testing.T) {
		if err := send("order 1", testNow); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a replay inside the window is refused", func(t *testing.T) {
		checkFailure(t, send("order 1", testNow.Add(time.Minute)), 401, ReasonReplay, ErrReplay)
	})
	t.Run("another body is accepted", func(t *testing.T) {
		if err := send("order 2", testNow.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a full cache of live signatures refuses with 503", func(t *testing.T) {
		checkFailure(t, send("order 3", testNow.Add(2*time.Minute)), 503, ReasonReplayCacheFull, ErrReplayCacheFull)
	})
	t.Run("after the window the signature is forgotten and the cache has room", func(t *testing.T) {
		later := testNow.Add(5*time.Minute + time.Second)
		if err := send("order 3", later); err != nil {
			t.Fatal(err)
		}
		if guard.Len() != 2 {
			t.Errorf("Len() = %d, want 2 (order 2 and order 3)", guard.Len())
		}
	})
	t.Run("a signature that failed to verify is not remembered", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("order 9"))
		r.Header.Set("Authorization", authorization(t, alice, SHA256, "alice", "order 8"))
		later := testNow.Add(5*time.Minute + time.Second)
		r.Header.Set("Date", later.Format(http.TimeFormat))
		n := guard.Len()
		checkFailure(t, v.Verify(context.Background(), pipeline.NewRequest(r, nil, later)), 401, ReasonSignatureInvalid, ErrBadSignature)
		if guard.Len() != n {
			t.Error("a bad signature was remembered")
		}
	})
}

// openSpoolFiles counts the descriptors this process holds on spooled
// bodies. The files are unlinked when created, so a directory listing cannot
// show a leak; an open descriptor (holding the disk space) can.
func openSpoolFiles(t *testing.T) int {
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

func TestVerifierTemporaryFiles(t *testing.T) {
	reg := testRegistry(t)
	alice := rsaKey(t, "alice", 2048)
	content := bytes.Repeat([]byte("0123456789"), 10_000)
	for _, tt := range []struct {
		name   string
		user   string
		signed []byte
	}{
		{"a verified body's file is released once the request finishes", "alice", content},
		{"a refused body's file is released once the request finishes", "alice", content[1:]},
		{"an unknown user's body file is released once the request finishes", "mallory", content},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			v, err := New(Config{Keys: reg, Body: body.Options{Memory: 1024, Dir: dir}})
			if err != nil {
				t.Fatal(err)
			}
			before := openSpoolFiles(t)
			r := httptest.NewRequest(http.MethodPut, "/", bytes.NewReader(content))
			r.Header.Set("Authorization", authorization(t, alice, SHA256, tt.user, string(tt.signed)))
			req := pipeline.NewRequest(r, nil, testNow)
			_ = v.Verify(context.Background(), req)
			if n := openSpoolFiles(t) - before; n != 1 {
				t.Fatalf("%d spooled bodies open after Verify, want 1 (the test sees no spool)", n)
			}
			req.Finish()
			if n := openSpoolFiles(t) - before; n != 0 {
				t.Errorf("%d spooled bodies still open after Finish", n)
			}
			if es, err := os.ReadDir(dir); err != nil || len(es) != 0 {
				t.Errorf("left behind: %v (%v)", es, err)
			}
		})
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	reg := testRegistry(t)
	for _, tt := range []struct {
		name, want string
		cfg        Config
	}{
		{"no keys", "no keys", Config{}},
		{"a SHA-1 user without a key", `SHA-1 user "carol" has no key`, Config{Keys: reg, SHA1Users: []string{"carol"}}},
		{"an unknown facet kind", "unknown facet kind", Config{Keys: reg, Facet: "robot"}},
	} {
		t.Run(tt.name+" is refused", func(t *testing.T) {
			if _, err := New(tt.cfg); err == nil || !contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestChallenge(t *testing.T) {
	v, err := New(Config{Keys: testRegistry(t)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := v.Challenge("healthgate"), `CWS-SHA256 realm="healthgate"`; got != want {
		t.Errorf("Challenge = %q, want %q", got, want)
	}
}

func TestReplayGuardAcceptsASignatureOnceUnderConcurrency(t *testing.T) {
	g, err := NewReplayGuard(time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if g.Remember([]byte("same signature"), testNow) == nil {
				accepted.Add(1)
			}
		})
	}
	wg.Wait()
	if n := accepted.Load(); n != 1 {
		t.Fatalf("%d of 16 concurrent uses accepted, want 1", n)
	}
}

func TestNewReplayGuardRefusesANonPositiveWindow(t *testing.T) {
	if _, err := NewReplayGuard(0, 10); err == nil || !contains(err.Error(), "not positive") {
		t.Fatalf("err = %v", err)
	}
}

// readRecorder is a body that records whether it was read.
type readRecorder struct {
	io.Reader
	read *bool
}

func (r readRecorder) Read(p []byte) (int, error) {
	*r.read = true
	return r.Reader.Read(p)
}

func TestVerifierDoesNotRevealKeyUsers(t *testing.T) {
	// A known user (alice, with bob's signature) and an unknown one
	// (mallory) must be refused alike: same status and reason, and the
	// body read for both (a 100 Continue is sent once it is read).
	reg := testRegistry(t)
	replayOn := func(c *Config) { c.Replay, _ = NewReplayGuard(5*time.Minute, 10) }
	withDate := func(t *testing.T, r *http.Request) { r.Header.Set("Date", testNow.Format(http.TimeFormat)) }
	for _, tt := range []struct {
		name     string
		alg      Algorithm
		cfg      func(*Config)
		edit     func(*testing.T, *http.Request)
		wantBody bool // the body is read
	}{
		{name: "a bad signature", wantBody: true},
		{name: "CWS-SHA1 when not enabled", alg: SHA1},
		{name: "CWS-SHA1 enabled for another user", alg: SHA1, cfg: func(c *Config) { c.SHA1Users = []string{"bob"} }},
		{name: "replay protection on, no Date", cfg: replayOn},
		{name: "replay protection on, a current Date", cfg: replayOn, edit: withDate, wantBody: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var fs [2]*pipeline.Failure
			for i, user := range []string{"alice", "mallory"} {
				read := false
				c := verifyCase{body: "order 1", user: user, signer: "bob", alg: tt.alg, cfg: tt.cfg,
					edit: func(t *testing.T, r *http.Request) {
						r.Body = io.NopCloser(readRecorder{strings.NewReader("order 1"), &read})
						if tt.edit != nil {
							tt.edit(t, r)
						}
					}}
				_, err := c.run(t, reg)
				if !errors.As(err, &fs[i]) {
					t.Fatalf("%s: err = %v, want a *pipeline.Failure", user, err)
				}
				if read != tt.wantBody {
					t.Errorf("%s: body read %v, want %v", user, read, tt.wantBody)
				}
			}
			if fs[0].Status != fs[1].Status || fs[0].Reason != fs[1].Reason {
				t.Errorf("a known user is refused with %d %s, an unknown one with %d %s",
					fs[0].Status, fs[0].Reason, fs[1].Status, fs[1].Reason)
			}
		})
	}
}
