package oidc

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/healthgate/healthgate/policy/audit"
)

// recorder is an audit.Observer that counts fetches by kind.
type recorder struct {
	audit.Nop
	mu                sync.Mutex
	fetches, failures map[string]int
}

func newRecorder() *recorder {
	return &recorder{fetches: map[string]int{}, failures: map[string]int{}}
}

func (r *recorder) Fetch(kind string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fetches[kind]++
	if err != nil {
		r.failures[kind]++
	}
}

// counts is what a recorder saw: kind → [fetches, failures].
type counts map[string][2]int

func (r *recorder) counts() counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := counts{}
	for k, n := range r.fetches {
		c[k] = [2]int{n, r.failures[k]}
	}
	return c
}

func (r *recorder) expect(t *testing.T, want counts) {
	t.Helper()
	if d := cmp.Diff(want, r.counts()); d != "" {
		t.Fatalf("observed fetches (-want +got), [fetches failures]:\n%s", d)
	}
}

func TestJWKSAndDiscoveryFetchesAreObserved(t *testing.T) {
	now := time.Now()
	l := newLocalIdP(t)
	rec := newRecorder()
	cfg := IssuerConfig{Issuer: l.issuer, Audiences: []string{"fhir-api"}, RefreshBurst: 3, RefreshInterval: time.Hour}
	v := mustVerifier(t, Config{Issuers: []IssuerConfig{cfg}, Observer: rec})
	verify := func(t *testing.T, claims map[string]any, kid string) error {
		t.Helper()
		tok := signRaw(t, l.rsa, mustJSON(t, map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": kid}), mustJSON(t, claims))
		return v.Verify(t.Context(), bearer(tok, now))
	}
	claims := func(jti string) map[string]any {
		c := l.claims(now)
		c["jti"] = jti
		return c
	}
	t.Run("nothing is fetched before the first token", func(t *testing.T) {
		rec.expect(t, counts{})
	})
	t.Run("the first token costs one discovery and one JWKS fetch", func(t *testing.T) {
		if err := verify(t, claims("a"), localRSAKid); err != nil {
			t.Fatal(err)
		}
		rec.expect(t, counts{FetchDiscovery: {1, 0}, FetchJWKS: {1, 0}})
	})
	t.Run("a new token under a known kid fetches nothing", func(t *testing.T) {
		if err := verify(t, claims("b"), localRSAKid); err != nil {
			t.Fatal(err)
		}
		rec.expect(t, counts{FetchDiscovery: {1, 0}, FetchJWKS: {1, 0}})
	})
	t.Run("an unknown kid makes go-oidc refetch, and that is observed", func(t *testing.T) {
		if err := verify(t, claims("c"), "unknown-1"); !errors.Is(err, ErrSignature) {
			t.Fatalf("got %v, want ErrSignature", err)
		}
		rec.expect(t, counts{FetchDiscovery: {1, 0}, FetchJWKS: {2, 0}})
	})
	t.Run("a refetch the issuer answers with 503 is a failure", func(t *testing.T) {
		l.down.Store(true)
		defer l.down.Store(false)
		if err := verify(t, claims("d"), "unknown-2"); !errors.Is(err, ErrSignature) {
			t.Fatalf("got %v, want ErrSignature", err)
		}
		rec.expect(t, counts{FetchDiscovery: {1, 0}, FetchJWKS: {3, 1}})
	})
	t.Run("a refetch the rate limiter refuses is no fetch", func(t *testing.T) {
		if err := verify(t, claims("e"), "unknown-3"); !errors.Is(err, ErrSignature) {
			t.Fatalf("got %v, want ErrSignature", err)
		}
		if n := l.jwksHits.Load(); n != 3 {
			t.Fatalf("the issuer saw %d JWKS requests, want 3 (burst spent)", n)
		}
		rec.expect(t, counts{FetchDiscovery: {1, 0}, FetchJWKS: {3, 1}})
	})
}

func TestAFailedDiscoveryIsObservedAsAFailure(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name  string
		setup func(l *localIdP) IssuerConfig
	}{
		{"an issuer that answers 503 fails its discovery", func(l *localIdP) IssuerConfig {
			l.down.Store(true)
			return IssuerConfig{Issuer: l.issuer, Audiences: []string{"fhir-api"}}
		}},
		{"a discovery document naming another issuer fails its discovery", func(l *localIdP) IssuerConfig {
			return IssuerConfig{Issuer: "JIMS-IMS-DEV", DiscoveryURL: l.srv.URL + "/auth", Audiences: []string{"fhir-api"}}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newLocalIdP(t)
			ic := c.setup(l)
			rec := newRecorder()
			v := mustVerifier(t, Config{Issuers: []IssuerConfig{ic}, Observer: rec})
			claims := l.claims(now)
			claims["iss"] = ic.Issuer
			if f := refusal(t, v, bearer(l.token(t, claims), now)); f.Status != 503 {
				t.Fatalf("refused with %d %v, want 503", f.Status, f.Err)
			}
			rec.expect(t, counts{FetchDiscovery: {1, 1}})
		})
	}
}

func TestAKeySetSharedAcrossReloadsReportsToTheLiveVerifiersOnly(t *testing.T) {
	now := time.Now()
	l := newLocalIdP(t)
	keys := NewRemoteKeys(RemoteKeysConfig{Issuer: l.issuer, JWKSURL: l.srv.URL + "/jwks"})
	ic := IssuerConfig{Issuer: l.issuer, JWKSURL: l.srv.URL + "/jwks", Audiences: []string{"fhir-api"}, Keys: keys}
	oldRec, newRec := newRecorder(), newRecorder()
	old := mustVerifier(t, Config{Issuers: []IssuerConfig{ic}, Observer: oldRec})
	next := mustVerifier(t, Config{Issuers: []IssuerConfig{ic}, Observer: newRec})

	if err := old.Verify(t.Context(), bearer(l.token(t, l.claims(now)), now)); err != nil {
		t.Fatal(err)
	}
	t.Run("while both run, both see the shared fetch", func(t *testing.T) {
		oldRec.expect(t, counts{FetchJWKS: {1, 0}})
		newRec.expect(t, counts{FetchJWKS: {1, 0}})
	})
	old.Close()
	t.Run("after Close the retired verifier sees no more fetches", func(t *testing.T) {
		tok := signRaw(t, l.rsa, `{"alg":"RS256","kid":"rotated"}`, mustJSON(t, l.claims(now)))
		if err := next.Verify(t.Context(), bearer(tok, now)); !errors.Is(err, ErrSignature) {
			t.Fatalf("got %v, want ErrSignature", err)
		}
		oldRec.expect(t, counts{FetchJWKS: {1, 0}})
		newRec.expect(t, counts{FetchJWKS: {2, 0}})
	})
}

func TestIntrospectionCallsAreObserved(t *testing.T) {
	op := startOP(t)
	rec := newRecorder()
	v := mustVerifier(t, Config{Issuers: []IssuerConfig{introspectingIssuer(op)}, Observer: rec})
	tok := op.Token(t, "svc-opaque", "system/*.read", fhirResource)
	now := time.Now()
	t.Run("three requests with one token cost one observed introspection", func(t *testing.T) {
		for i := range 3 {
			if err := v.Verify(t.Context(), bearer(tok, now.Add(time.Duration(i)*time.Second))); err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
		}
		rec.expect(t, counts{FetchIntrospection: {1, 0}})
	})
	t.Run("an inactive token is an answer, not a failed fetch", func(t *testing.T) {
		if f := refusal(t, v, bearer("not-a-token-the-provider-issued", now)); !errors.Is(f.Err, ErrInactive) {
			t.Fatalf("refused with %v, want ErrInactive", f.Err)
		}
		rec.expect(t, counts{FetchIntrospection: {2, 0}})
	})
	t.Run("an unreachable endpoint is a failed fetch", func(t *testing.T) {
		op.Stop()
		if f := refusal(t, v, bearer("another-unknown-token", now)); f.Status != 503 {
			t.Fatalf("refused with %d %v, want 503", f.Status, f.Err)
		}
		rec.expect(t, counts{FetchIntrospection: {3, 1}})
	})
}
