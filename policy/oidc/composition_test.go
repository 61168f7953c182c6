package oidc

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/healthgate/healthgate/policy/identity"
	"github.com/healthgate/healthgate/policy/pipeline"
)

// withCertificate is a request on which the client_cert verifier already
// proved a device and an application from a certificate whose DER is der.
func withCertificate(tok string, now time.Time, der []byte, app string) *pipeline.Request {
	req := bearer(tok, now)
	sum := sha256.Sum256(der)
	req.Principal.Certificate = &identity.Certificate{SHA256: hex.EncodeToString(sum[:]), Subject: "CN=tablet-7"}
	_ = req.Principal.Add(&identity.Facet{Kind: identity.Device, ID: "tablet-7", Proof: identity.ProofMTLS, Source: "cert"})
	_ = req.Principal.Add(&identity.Facet{Kind: identity.Application, ID: app, Proof: identity.ProofMTLS, Source: "cert"})
	req.Verified = append(req.Verified, "client_cert")
	return req
}

func TestSoftwareByCertificateUserByToken(t *testing.T) {
	l := newLocalIdP(t)
	now := time.Now()
	der := []byte("certificate DER stand-in")
	newV := func(c Conflict) *Verifier {
		return mustVerifier(t, Config{Issuers: []IssuerConfig{{Issuer: l.issuer, Audiences: []string{"fhir-api"}, ApplicationConflict: c}}})
	}
	token := func(app string) string {
		c := l.claims(now)
		c["appid"] = app
		return l.token(t, c)
	}

	t.Run("the certificate's application and the token's user combine", func(t *testing.T) {
		req := withCertificate(token("app-1"), now, der, "app-1")
		if err := newV(ConflictReject).Verify(t.Context(), req); err != nil {
			t.Fatal(err)
		}
		want := []*identity.Facet{
			{Kind: identity.Device, ID: "tablet-7", Proof: identity.ProofMTLS, Source: "cert"},
			{Kind: identity.Application, ID: "app-1", Proof: identity.ProofMTLS, Source: "cert"},
			{Kind: identity.User, ID: "user-1", Proof: identity.ProofJWT, Source: l.issuer},
		}
		if d := cmp.Diff(want, req.Principal.Facets()); d != "" {
			t.Fatalf("facets (-want +got):\n%s", d)
		}
	})
	t.Run("a token for another application than the certificate's is refused", func(t *testing.T) {
		f := refusal(t, newV(ConflictReject), withCertificate(token("app-2"), now, der, "app-1"))
		var conflict *identity.ConflictError
		if !errors.Is(f.Err, ErrConflict) || !errors.As(f.Err, &conflict) || conflict.Kind != identity.Application || f.Status != 401 {
			t.Fatalf("refused with %d %v, want 401 ErrConflict on the application", f.Status, f.Err)
		}
	})
	t.Run("with application_conflict ignore the certificate's application stays", func(t *testing.T) {
		req := withCertificate(token("app-2"), now, der, "app-1")
		if err := newV(ConflictIgnore).Verify(t.Context(), req); err != nil {
			t.Fatal(err)
		}
		if a, u := req.Principal.Application, req.Principal.User; a.ID != "app-1" || a.Proof != identity.ProofMTLS || u == nil || u.ID != "user-1" {
			t.Fatalf("application %+v user %+v", a, u)
		}
	})
}

func TestCertificateBoundTokens(t *testing.T) {
	l := newLocalIdP(t)
	now := time.Now()
	der := []byte("the bound certificate")
	sum := sha256.Sum256(der)
	bound := func() string {
		c := l.claims(now)
		c["appid"] = "app-1"
		c["cnf"] = map[string]string{"x5t#S256": base64.RawURLEncoding.EncodeToString(sum[:])}
		return l.token(t, c)
	}()
	v := mustVerifier(t, Config{Issuers: []IssuerConfig{{Issuer: l.issuer, Audiences: []string{"fhir-api"}}}})

	t.Run("a bound token over its certificate is accepted", func(t *testing.T) {
		if err := v.Verify(t.Context(), withCertificate(bound, now, der, "app-1")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a bound token without a certificate is refused", func(t *testing.T) {
		if f := refusal(t, v, bearer(bound, now)); !errors.Is(f.Err, ErrBinding) {
			t.Fatalf("refused with %v, want ErrBinding", f.Err)
		}
	})
	t.Run("a bound token over another certificate is refused, even from the cache", func(t *testing.T) {
		if f := refusal(t, v, withCertificate(bound, now, []byte("another certificate"), "app-1")); !errors.Is(f.Err, ErrBinding) {
			t.Fatalf("refused with %v, want ErrBinding", f.Err)
		}
	})
}

// A cnf the verifier cannot check must refuse the token: read as unbound, a
// stolen bound token would pass without its certificate.
func TestUncheckableConfirmationRefused(t *testing.T) {
	l := newLocalIdP(t)
	now := time.Now()
	v := mustVerifier(t, Config{Issuers: []IssuerConfig{{Issuer: l.issuer, Audiences: []string{"fhir-api"}}}})
	for name, cnf := range map[string]any{
		"x5t#S256 null":        map[string]any{"x5t#S256": nil},
		"x5t#S256 empty":       map[string]any{"x5t#S256": ""},
		"x5t#S256 empty array": map[string]any{"x5t#S256": []string{}},
		"x5t#S256 array":       map[string]any{"x5t#S256": []string{"", "x"}},
		"x5t#S256 object":      map[string]any{"x5t#S256": map[string]string{"a": "b"}},
		"cnf empty":            map[string]any{},
		"cnf not an object":    "x",
		"cnf null":             nil,
		"DPoP jkt":             map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"},
	} {
		t.Run(name, func(t *testing.T) {
			c := l.claims(now)
			c["cnf"] = cnf
			if f := refusal(t, v, bearer(l.token(t, c), now)); !errors.Is(f.Err, ErrBinding) || f.Status != 401 {
				t.Fatalf("refused with %d %v, want 401 ErrBinding", f.Status, f.Err)
			}
		})
	}
	t.Run("a top-level claim named cnf.x5t#S256 does not stand in for cnf", func(t *testing.T) {
		der := []byte("the bound certificate")
		sum := sha256.Sum256(der)
		c := l.claims(now)
		c["cnf"] = map[string]string{"x5t#S256": base64.RawURLEncoding.EncodeToString(sum[:])}
		c["cnf.x5t#S256"] = "not-the-thumbprint"
		if err := v.Verify(t.Context(), withCertificate(l.token(t, c), now, der, "app-1")); err != nil {
			t.Fatal(err)
		}
		c["cnf"] = map[string]string{"x5t#S256": "not-the-thumbprint"}
		c["cnf.x5t#S256"] = base64.RawURLEncoding.EncodeToString(sum[:])
		if f := refusal(t, v, withCertificate(l.token(t, c), now, der, "app-1")); !errors.Is(f.Err, ErrBinding) {
			t.Fatalf("refused with %v, want ErrBinding", f.Err)
		}
	})
}
