package clientcert

import (
	"context"
	"crypto/x509"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ocsp"

	"github.com/healthgate/healthgate/policy/audit"
	"github.com/healthgate/healthgate/policy/clientcert/clientcerttest"
)

// recorder is an audit.Observer that counts revocation checks and fetches.
type recorder struct {
	audit.Nop
	mu  sync.Mutex
	got map[string]int // "check method/result", "fetch kind", "failure kind"
}

func (r *recorder) add(k string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.got == nil {
		r.got = map[string]int{}
	}
	r.got[k]++
}

func (r *recorder) Revocation(method, result string) { r.add("check " + method + "/" + result) }

func (r *recorder) Fetch(kind string, err error) {
	r.add("fetch " + kind)
	if err != nil {
		r.add("failure " + kind)
	}
}

func (r *recorder) snapshot() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for k, v := range r.got {
		out[k] = v
	}
	return out
}

func TestRevocationChecksAreObserved(t *testing.T) {
	p := newOpenSSLPKI(t)
	p.ca.StartResponder()
	good, bad := p.chain(p.good), p.chain(p.bad)
	cases := []struct {
		name          string
		cfg           RevocationConfig
		responderDown bool
		checks        [][]*x509.Certificate
		want          map[string]int
	}{
		{"an OCSP good answer is fetched once and its cached repeat still counts as a check",
			RevocationConfig{Method: MethodOCSP}, false, [][]*x509.Certificate{good, good},
			map[string]int{"check ocsp/good": 2, "fetch ocsp": 1}},
		{"an OCSP revoked answer counts as revoked",
			RevocationConfig{Method: MethodOCSP}, false, [][]*x509.Certificate{bad},
			map[string]int{"check ocsp/revoked": 1, "fetch ocsp": 1}},
		{"one CRL download serves a revoked and a good certificate",
			RevocationConfig{Method: MethodCRL}, false, [][]*x509.Certificate{bad, good},
			map[string]int{"check crl/revoked": 1, "check crl/good": 1, "fetch crl": 1}},
		{"a local CRL file is a check without a fetch",
			RevocationConfig{Method: MethodCRL, CRLFiles: []string{p.ca.CRLFile}, HTTPClient: offline}, false, [][]*x509.Certificate{good},
			map[string]int{"check crl/good": 1}},
		{"with the responder down, ocsp_then_crl counts a failed OCSP check and the CRL's answer",
			RevocationConfig{Method: MethodOCSPThenCRL}, true, [][]*x509.Certificate{bad},
			map[string]int{"check ocsp/error": 1, "fetch ocsp": 1, "failure ocsp": 1, "check crl/revoked": 1, "fetch crl": 1}},
		{"with the network off, a failed OCSP check is an error and a failed fetch",
			RevocationConfig{Method: MethodOCSP, HTTPClient: offline}, true, [][]*x509.Certificate{good},
			map[string]int{"check ocsp/error": 1, "fetch ocsp": 1, "failure ocsp": 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.responderDown {
				p.ca.StopResponder()
			}
			rec := &recorder{}
			c.cfg.Observer = rec
			rv := newRevocation(t, c.cfg)
			for _, chain := range c.checks {
				_, _ = rv.Check(context.Background(), chain) // outcomes are revocation_test.go's
			}
			if d := cmp.Diff(c.want, rec.snapshot()); d != "" {
				t.Fatalf("observed (-want +got):\n%s", d)
			}
		})
	}
}

// TestAnOCSPUnknownAnswerIsObservedAsUnknown has the CA's real delegated
// responder key sign "unknown", which `openssl ocsp` only says for
// certificates of other CAs.
func TestAnOCSPUnknownAnswerIsObservedAsUnknown(t *testing.T) {
	p := newOpenSSLPKI(t)
	responder := clientcerttest.ReadCert(t, filepath.Join(p.ca.Dir, "ocsp.crt"))
	key := readSigner(t, filepath.Join(p.ca.Dir, "ocsp.key"))
	client := ocspAnswering(t, p.ca.Cert, responder, key, ocsp.Unknown, p.good.Cert.SerialNumber)
	rec := &recorder{}
	rv := newRevocation(t, RevocationConfig{Method: MethodOCSP, HTTPClient: client, Observer: rec})
	if _, err := rv.Check(context.Background(), p.chain(p.good)); err == nil {
		t.Fatal("an unknown answer passed the check")
	}
	want := map[string]int{"check ocsp/unknown": 1, "fetch ocsp": 1}
	if d := cmp.Diff(want, rec.snapshot()); d != "" {
		t.Fatalf("observed (-want +got):\n%s", d)
	}
}
