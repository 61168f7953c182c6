package clientcert

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/healthgate/healthgate/policy/clientcert/clientcerttest"
	"github.com/healthgate/healthgate/policy/pipeline"
)

// These tests run against a real OpenSSL CA: `openssl ocsp` serving the
// CA's index and a CRL made with `openssl ca -gencrl`, on the real clock.

type opensslPKI struct {
	ca        *clientcerttest.CA
	good, bad clientcerttest.Issued
}

func newOpenSSLPKI(t *testing.T) *opensslPKI {
	ca := clientcerttest.New(t)
	p := &opensslPKI{ca: ca, good: ca.Issue("good", "tablet-good"), bad: ca.Issue("bad", "tablet-bad")}
	ca.Revoke("bad")
	return p
}

func (p *opensslPKI) chain(leaf clientcerttest.Issued) []*x509.Certificate {
	return []*x509.Certificate{leaf.Cert, p.ca.Cert}
}

func newRevocation(t *testing.T, cfg RevocationConfig) *Revocation {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	rv, err := NewRevocation(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rv
}

// offline is an HTTP client for which every fetch fails, proving an answer
// came from a cache or a local file.
var offline = &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
	return nil, errors.New("offline")
})}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRevocationAgainstOpenSSL(t *testing.T) {
	p := newOpenSSLPKI(t)
	p.ca.StartResponder()
	ctx := context.Background()

	t.Run("a good certificate passes OCSP and is cached until the responder's next update", func(t *testing.T) {
		rv := newRevocation(t, RevocationConfig{Method: MethodOCSP})
		until, err := rv.Check(ctx, p.chain(p.good))
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Until(until); d < 4*time.Minute || d > 5*time.Minute+time.Second {
			t.Errorf("valid for %v, want about the responder's 5 minutes", d)
		}
		rv.cfg.HTTPClient = offline
		if _, err := rv.Check(ctx, p.chain(p.good)); err != nil {
			t.Fatalf("cached answer not used: %v", err)
		}
	})
	t.Run("a revoked certificate is refused by OCSP with its reason", func(t *testing.T) {
		rv := newRevocation(t, RevocationConfig{Method: MethodOCSP})
		_, err := rv.Check(ctx, p.chain(p.bad))
		var rev *RevokedError
		if !errors.As(err, &rev) || rev.Source != "ocsp" || rev.Reason != ocsp.KeyCompromise {
			t.Fatalf("got %v, want revoked by ocsp for keyCompromise", err)
		}
	})
	t.Run("a revoked certificate is refused by the CRL at its distribution point", func(t *testing.T) {
		rv := newRevocation(t, RevocationConfig{Method: MethodCRL})
		_, err := rv.Check(ctx, p.chain(p.bad))
		var rev *RevokedError
		if !errors.As(err, &rev) || rev.Source != "crl" {
			t.Fatalf("got %v, want revoked by crl", err)
		}
		if _, err := rv.Check(ctx, p.chain(p.good)); err != nil {
			t.Fatalf("good certificate: %v", err)
		}
	})
	t.Run("a revoked certificate is refused by a local CRL file without any network", func(t *testing.T) {
		rv := newRevocation(t, RevocationConfig{Method: MethodCRL, CRLFiles: []string{p.ca.CRLFile}, HTTPClient: offline})
		if _, err := rv.Check(ctx, p.chain(p.bad)); !errors.Is(err, ErrRevoked) {
			t.Fatalf("got %v, want ErrRevoked", err)
		}
		if _, err := rv.Check(ctx, p.chain(p.good)); err != nil {
			t.Fatalf("good certificate: %v", err)
		}
	})
	t.Run("a CRL file past its next update is no answer", func(t *testing.T) {
		rv := newRevocation(t, RevocationConfig{Method: MethodCRL, CRLFiles: []string{p.ca.CRLFile}, HTTPClient: offline,
			Now: func() time.Time { return time.Now().Add(8 * 24 * time.Hour) }})
		var u *UnavailableError
		if _, err := rv.Check(ctx, p.chain(p.good)); !errors.As(err, &u) || !errors.Is(err, pipeline.ErrUnavailable) {
			t.Fatalf("got %v, want UnavailableError", err)
		}
	})
	t.Run("a CRL file of another CA is refused at load only if unreadable, and ignored for this issuer", func(t *testing.T) {
		other := clientcerttest.New(t)
		rv := newRevocation(t, RevocationConfig{Method: MethodCRL, CRLFiles: []string{other.CRLFile}, HTTPClient: offline})
		var u *UnavailableError
		if _, err := rv.Check(ctx, p.chain(p.bad)); !errors.As(err, &u) {
			t.Fatalf("got %v, want UnavailableError (no CRL for this issuer, network off)", err)
		}
	})
	t.Run("a CRL file that does not parse is refused at load, naming the file", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "broken.crl")
		os.WriteFile(bad, []byte("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"), 0o600)
		_, err := NewRevocation(RevocationConfig{CRLFiles: []string{bad}})
		if err == nil || !strings.Contains(err.Error(), "broken.crl") {
			t.Fatalf("got %v", err)
		}
	})

	p.ca.StopResponder()

	t.Run("with the responder down, ocsp_then_crl falls back to the CRL", func(t *testing.T) {
		rv := newRevocation(t, RevocationConfig{Method: MethodOCSPThenCRL})
		if _, err := rv.Check(ctx, p.chain(p.bad)); !errors.Is(err, ErrRevoked) {
			t.Fatalf("got %v, want ErrRevoked from the CRL", err)
		}
	})
	t.Run("with the responder down, ocsp alone is unavailable and nothing is cached", func(t *testing.T) {
		rv := newRevocation(t, RevocationConfig{Method: MethodOCSP})
		_, err := rv.Check(ctx, p.chain(p.good))
		if !errors.Is(err, pipeline.ErrUnavailable) || errors.Is(err, ErrRevoked) {
			t.Fatalf("got %v, want unavailable", err)
		}
		if n := rv.ocsp.Len(); n != 0 {
			t.Fatalf("%d failed answers cached", n)
		}
	})
}

// TestForgedOCSPAnswers puts a man in the middle of the plain-HTTP OCSP
// path: it answers "good" for the revoked certificate, signed by keys that
// must not be believed.
func TestForgedOCSPAnswers(t *testing.T) {
	p := newOpenSSLPKI(t)
	responder := clientcerttest.ReadCert(t, filepath.Join(p.ca.Dir, "ocsp.crt"))
	for _, tt := range []struct {
		name   string
		signer *x509.Certificate
		key    crypto.Signer
		want   error
	}{
		{"a good answer signed by another client's certificate is not believed", p.good.Cert, readSigner(t, p.good.KeyFile), pipeline.ErrUnavailable},
		{"a good answer signed by the real delegated responder is believed", responder, readSigner(t, filepath.Join(p.ca.Dir, "ocsp.key")), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			client := ocspAnswering(t, p.ca.Cert, tt.signer, tt.key, ocsp.Good, p.bad.Cert.SerialNumber)
			rv := newRevocation(t, RevocationConfig{Method: MethodOCSP, HTTPClient: client})
			_, err := rv.Check(context.Background(), p.chain(p.bad))
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// readSigner reads a PEM PKCS #8 private key.
func readSigner(t testing.TB, path string) crypto.Signer {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(crypto.Signer)
}

// ocspAnswering serves, to every request, one OCSP answer of status for
// serial from issuer's responder signer (signed with key), until the test
// ends. Certificates name the CA's own responder URL, so the client it
// returns sends every request to this server instead.
func ocspAnswering(t testing.TB, issuer, signer *x509.Certificate, key crypto.Signer, status int, serial *big.Int) *http.Client {
	t.Helper()
	now := time.Now()
	resp, err := ocsp.CreateResponse(issuer, signer, ocsp.Response{
		Status: status, SerialNumber: serial,
		ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Hour), Certificate: signer,
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/ocsp-response")
		_, _ = w.Write(resp)
	}))
	t.Cleanup(srv.Close)
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", srv.Listener.Addr().String())
	}}}
}
