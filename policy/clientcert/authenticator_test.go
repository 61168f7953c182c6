package clientcert

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/healthgate/healthgate/policy/identity"
	"github.com/healthgate/healthgate/policy/pipeline"
)

type authFixture struct {
	root, other    *testCA
	device, orphan *x509.Certificate
	auth           *Authenticator
}

func newAuthFixture(t testing.TB, cfg Config) *authFixture {
	f := &authFixture{root: newRoot(t, "Hospital Device CA"), other: newRoot(t, "Rogue CA")}
	f.device = f.root.leaf(t, leafOpts{cn: "ward-tablet-7", uris: []string{"spiffe://hospital/device/ward-tablet-7"}})
	f.orphan = f.root.leaf(t, leafOpts{cn: "unknown-thing"})
	trust, err := NewTrust(pool(f.root.cert), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMapper()
	r, err := ParseRule([]string{"san_uri", "spiffe://hospital/device/*", "device", "{1}"})
	if err != nil {
		t.Fatal(err)
	}
	m.Add(r)
	cfg.Trust, cfg.Mapper = trust, m
	if f.auth, err = NewAuthenticator(cfg); err != nil {
		t.Fatal(err)
	}
	return f
}

func failureOf(t *testing.T, err error) (int, string) {
	t.Helper()
	var f *pipeline.Failure
	if !errors.As(err, &f) {
		t.Fatalf("got %T %v, want *pipeline.Failure", err, err)
	}
	return f.Status, f.Reason
}

func TestAuthenticatorOutcomes(t *testing.T) {
	src, _ := NewSource(FormatEscapedPEM, "", "")
	f := newAuthFixture(t, Config{From: &src, Forward: ForwardXSSLClientCert})
	ctx := context.Background()

	t.Run("a mapped device over TLS gets an mtls device facet and the certificate facts", func(t *testing.T) {
		res, warn, err := f.auth.TLS(ctx, []*x509.Certificate{f.device}, testNow)
		if err != nil || warn != nil {
			t.Fatal(err, warn)
		}
		var p identity.Principal
		if err := res.Apply(&p); err != nil {
			t.Fatal(err)
		}
		v := newCertView(f.device)
		want := &identity.Facet{Kind: identity.Device, ID: "ward-tablet-7", Name: "ward-tablet-7", Proof: identity.ProofMTLS, Source: v.sha256}
		if diff := cmp.Diff(want, p.Device); diff != "" {
			t.Errorf("facet (-want +got):\n%s", diff)
		}
		if p.Certificate.SHA256 != v.sha256 || p.Certificate.SHA1 != v.sha1 || p.Certificate.Forwarded {
			t.Errorf("facts %+v", p.Certificate)
		}
		if got := res.Upstream["X-SSL-ClientCert"]; got != EscapedPEM(f.device) {
			t.Errorf("X-SSL-ClientCert = %q", got)
		}
	})
	t.Run("the same device forwarded by a proxy gets a forwarded_cert facet", func(t *testing.T) {
		h := http.Header{"X-Ssl-Clientcert": {EscapedPEM(f.device)}}
		res, _, err := f.auth.Forwarded(ctx, h, testNow)
		if err != nil {
			t.Fatal(err)
		}
		if res.Facet.Proof != identity.ProofForwardedCert || !res.Certificate.Forwarded {
			t.Errorf("facet %+v facts %+v", res.Facet, res.Certificate)
		}
	})
	for _, tt := range []struct {
		name   string
		peer   func() []*x509.Certificate
		now    time.Time
		status int
		reason string
	}{
		{"an unmapped certificate is refused with 403 cert_unmapped", func() []*x509.Certificate { return []*x509.Certificate{f.orphan} }, testNow, 403, ReasonUnmapped},
		{"a certificate of an unknown CA is refused with 401 cert_untrusted", func() []*x509.Certificate {
			return []*x509.Certificate{f.other.leaf(t, leafOpts{cn: "x", uris: []string{"spiffe://hospital/device/x"}})}
		}, testNow, 401, ReasonUntrusted},
		{"an expired certificate is refused with 401 cert_expired", func() []*x509.Certificate { return []*x509.Certificate{f.device} }, testNow.AddDate(2, 0, 0), 401, ReasonExpired},
		{"a serverAuth-only certificate is refused with 401 cert_usage", func() []*x509.Certificate {
			return []*x509.Certificate{f.root.leaf(t, leafOpts{cn: "x", eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})}
		}, testNow, 401, ReasonUsage},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := f.auth.TLS(ctx, tt.peer(), tt.now)
			status, reason := failureOf(t, err)
			if status != tt.status || reason != tt.reason {
				t.Fatalf("got %d %s, want %d %s", status, reason, tt.status, tt.reason)
			}
		})
	}
	t.Run("a malformed forwarded header is refused with 401 cert_header_malformed", func(t *testing.T) {
		_, _, err := f.auth.Forwarded(ctx, http.Header{"X-Ssl-Clientcert": {"%zz"}}, testNow)
		if status, reason := failureOf(t, err); status != 401 || reason != ReasonHeaderMalformed {
			t.Fatalf("got %d %s", status, reason)
		}
	})
	t.Run("a request without the header has no certificate", func(t *testing.T) {
		if _, _, err := f.auth.Forwarded(ctx, http.Header{}, testNow); err != ErrNoCertificate {
			t.Fatalf("got %v", err)
		}
		if _, _, err := f.auth.TLS(ctx, nil, testNow); err != ErrNoCertificate {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("an unmapped certificate is verified without a facet when unmapped is allow", func(t *testing.T) {
		g := newAuthFixture(t, Config{Unmapped: UnmappedAllow})
		res, _, err := g.auth.TLS(ctx, []*x509.Certificate{g.orphan}, testNow)
		if err != nil {
			t.Fatal(err)
		}
		var p identity.Principal
		res.Apply(&p)
		if !p.Anonymous() || p.Certificate == nil || p.Certificate.Subject != "CN=unknown-thing" {
			t.Fatalf("principal %+v", p)
		}
	})
}

func TestIdentityCache(t *testing.T) {
	src, _ := NewSource(FormatBase64DER, "", "")
	f := newAuthFixture(t, Config{From: &src})
	ctx := context.Background()

	t.Run("a connection's leaf is verified once and then served from the cache", func(t *testing.T) {
		a, _, err := f.auth.TLS(ctx, []*x509.Certificate{f.device}, testNow)
		if err != nil {
			t.Fatal(err)
		}
		b, _, _ := f.auth.TLS(ctx, []*x509.Certificate{f.device}, testNow.Add(time.Minute))
		if a != b {
			t.Fatal("second request on the connection recomputed the identity")
		}
		copyOf := *f.device // same bytes, another connection
		c, _, _ := f.auth.TLS(ctx, []*x509.Certificate{&copyOf}, testNow)
		if c == a {
			t.Fatal("another connection's certificate shared the entry")
		}
	})
	t.Run("a cached identity is recomputed once the certificate expires", func(t *testing.T) {
		if _, _, err := f.auth.TLS(ctx, []*x509.Certificate{f.device}, f.device.NotAfter.Add(time.Second)); !errors.Is(err, ErrExpired) {
			t.Fatalf("got %v, want expiry", err)
		}
	})
	t.Run("a forwarded value is verified once per distinct value", func(t *testing.T) {
		h := http.Header{"X-Ssl-Client-Cert": {b64DER(f.device)}}
		a, _, _ := f.auth.Forwarded(ctx, h, testNow)
		b, _, _ := f.auth.Forwarded(ctx, h, testNow)
		if a == nil || a != b {
			t.Fatal("same header value recomputed")
		}
		other := f.root.leaf(t, leafOpts{cn: "b", uris: []string{"spiffe://hospital/device/b"}})
		c, _, _ := f.auth.Forwarded(ctx, http.Header{"X-Ssl-Client-Cert": {b64DER(other)}}, testNow)
		if c == a || c.Facet.ID != "b" {
			t.Fatalf("distinct value got %+v", c.Facet)
		}
	})
	t.Run("failures are not cached", func(t *testing.T) {
		before := f.auth.forwarded.Len()
		f.auth.Forwarded(ctx, http.Header{"X-Ssl-Client-Cert": {b64DER(f.orphan)}}, testNow)
		if f.auth.forwarded.Len() != before {
			t.Fatal("a refused certificate was cached")
		}
	})
	t.Run("the cache is bounded", func(t *testing.T) {
		g := newAuthFixture(t, Config{CacheEntries: 3})
		for i := 0; i < 10; i++ {
			c := *g.device
			g.auth.TLS(ctx, []*x509.Certificate{&c}, testNow)
		}
		if n := g.auth.conns.Len(); n != 3 {
			t.Fatalf("%d entries, want 3", n)
		}
	})
}

// TestIdentityPerTLSConnection proves over real TLS, HTTP/1.1 and HTTP/2,
// that crypto/tls hands every request of a connection the same leaf
// pointer, and a new connection a new one: the premise of the
// per-connection cache.
func TestIdentityPerTLSConnection(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("requests on one connection share the identity (h2 %v)", h2), func(t *testing.T) {
			testIdentityPerTLSConnection(t, h2)
		})
	}
}

func testIdentityPerTLSConnection(t *testing.T, h2 bool) {
	f := newAuthFixture(t, Config{})
	var mu sync.Mutex
	var results []*Result
	var protos []int
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, _, err := f.auth.TLS(r.Context(), r.TLS.PeerCertificates, time.Now())
		if err != nil {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		results = append(results, res)
		protos = append(protos, r.ProtoMajor)
		mu.Unlock()
	}))
	srv.EnableHTTP2 = h2
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	defer srv.Close()

	// A real-time certificate: this test runs on the wall clock.
	now := time.Now()
	key := newKey(t)
	o := leafOpts{cn: "t", uris: []string{"spiffe://hospital/device/t"}, notBefore: now.Add(-time.Hour), notAfter: now.Add(time.Hour)}
	leaf := sign(t, o.template(t), f.root.cert, key.Public(), f.root.key)
	client := func() *http.Client {
		tr := srv.Client().Transport.(*http.Transport).Clone()
		tr.TLSClientConfig.Certificates = []tls.Certificate{{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}}
		return &http.Client{Transport: tr}
	}
	get := func(c *http.Client) {
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	one, two := client(), client()
	get(one)
	get(one)
	get(two)
	want := 1
	if h2 {
		want = 2
	}
	if protos[0] != want {
		t.Fatalf("HTTP/%d, want HTTP/%d", protos[0], want)
	}
	if len(results) != 3 || results[0] != results[1] || results[0] == results[2] {
		t.Fatalf("results %p %p %p: want the first two shared, the third distinct", results[0], results[1], results[2])
	}
}

func TestRevocationModes(t *testing.T) {
	p := newOpenSSLPKI(t) // responder never started: down
	trust, err := NewTrust(pool(p.ca.Cert), nil)
	if err != nil {
		t.Fatal(err)
	}
	rv := newRevocation(t, RevocationConfig{Method: MethodOCSP, Timeout: time.Second})
	rvCRL := newRevocation(t, RevocationConfig{Method: MethodOCSPThenCRL, Timeout: time.Second})
	mk := func(mode Mode, rv *Revocation) *Authenticator {
		a, err := NewAuthenticator(Config{Trust: trust, Unmapped: UnmappedAllow, Revocation: rv, RevocationMode: mode})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	ctx := context.Background()
	t.Run("responder down in soft mode passes, with a warning, and is not cached", func(t *testing.T) {
		a := mk(ModeSoft, rv)
		res, warn, err := a.TLS(ctx, []*x509.Certificate{p.good.Cert}, time.Now())
		if err != nil || res == nil || !errors.Is(warn, pipeline.ErrUnavailable) {
			t.Fatalf("err %v warn %v", err, warn)
		}
		if a.conns.Len() != 0 {
			t.Fatal("a soft-failed identity was cached")
		}
	})
	t.Run("responder down in hard mode refuses with 503 revocation_unavailable", func(t *testing.T) {
		_, _, err := mk(ModeHard, rv).TLS(ctx, []*x509.Certificate{p.good.Cert}, time.Now())
		if status, reason := failureOf(t, err); status != 503 || reason != ReasonRevocationUnavailable {
			t.Fatalf("got %d %s", status, reason)
		}
	})
	t.Run("a revoked certificate is refused with 401 cert_revoked even in soft mode", func(t *testing.T) {
		_, _, err := mk(ModeSoft, rvCRL).TLS(ctx, []*x509.Certificate{p.bad.Cert}, time.Now())
		if status, reason := failureOf(t, err); status != 401 || reason != ReasonRevoked {
			t.Fatalf("got %d %s", status, reason)
		}
	})
	t.Run("a revoked certificate that is also pinned is refused", func(t *testing.T) {
		// A pin must not shield a certificate of the pool's CA from its
		// revocation.
		pinned, err := NewTrust(pool(p.ca.Cert), []*x509.Certificate{p.bad.Cert})
		if err != nil {
			t.Fatal(err)
		}
		rvFile := newRevocation(t, RevocationConfig{Method: MethodCRL, CRLFiles: []string{p.ca.CRLFile}, HTTPClient: offline})
		a, err := NewAuthenticator(Config{Trust: pinned, Unmapped: UnmappedAllow, Revocation: rvFile, RevocationMode: ModeHard})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = a.TLS(ctx, []*x509.Certificate{p.bad.Cert}, time.Now())
		if status, reason := failureOf(t, err); status != 401 || reason != ReasonRevoked {
			t.Fatalf("got %d %s", status, reason)
		}
	})
	t.Run("a pinned certificate of a CA whose chain is unknown has no revocation answer", func(t *testing.T) {
		pinOnly, err := NewTrust(nil, []*x509.Certificate{p.bad.Cert})
		if err != nil {
			t.Fatal(err)
		}
		rvFile := newRevocation(t, RevocationConfig{Method: MethodCRL, CRLFiles: []string{p.ca.CRLFile}, HTTPClient: offline})
		mkPinned := func(mode Mode) *Authenticator {
			a, err := NewAuthenticator(Config{Trust: pinOnly, Unmapped: UnmappedAllow, Revocation: rvFile, RevocationMode: mode})
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
		_, _, err = mkPinned(ModeHard).TLS(ctx, []*x509.Certificate{p.bad.Cert}, time.Now())
		if status, reason := failureOf(t, err); status != 503 || reason != ReasonRevocationUnavailable {
			t.Fatalf("hard: got %d %s", status, reason)
		}
		if _, warn, err := mkPinned(ModeSoft).TLS(ctx, []*x509.Certificate{p.bad.Cert}, time.Now()); err != nil || !errors.Is(warn, pipeline.ErrUnavailable) {
			t.Fatalf("soft: err %v warn %v", err, warn)
		}
	})
	t.Run("a pinned self-signed certificate needs no revocation answer", func(t *testing.T) {
		self := selfSigned(t, leafOpts{cn: "orthanc-b", notBefore: time.Now().Add(-time.Hour), notAfter: time.Now().Add(time.Hour)})
		pinOnly, err := NewTrust(nil, []*x509.Certificate{self})
		if err != nil {
			t.Fatal(err)
		}
		a, err := NewAuthenticator(Config{Trust: pinOnly, Unmapped: UnmappedAllow, Revocation: rv, RevocationMode: ModeHard})
		if err != nil {
			t.Fatal(err)
		}
		if _, warn, err := a.TLS(ctx, []*x509.Certificate{self}, time.Now()); err != nil || warn != nil {
			t.Fatalf("err %v warn %v", err, warn)
		}
	})
	t.Run("revocation mode without a checker is a configuration error", func(t *testing.T) {
		if _, err := NewAuthenticator(Config{Trust: trust, RevocationMode: ModeHard}); err == nil {
			t.Fatal("no error")
		}
	})
}
