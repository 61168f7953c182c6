package oidc

import (
	"errors"
	"testing"
	"time"

	"github.com/healthgate/healthgate/policy/pipeline"
)

func TestKeysAreFoundAndKept(t *testing.T) {
	now := time.Now()
	t.Run("discovery at SanteDB's /auth base finds keys for an issuer named otherwise", func(t *testing.T) {
		l := newLocalIdP(t)
		l.issuer = "JIMS-IMS-DEV" // SanteDB's issuerName need not be a URL
		v := mustVerifier(t, Config{Issuers: []IssuerConfig{{Issuer: l.issuer, DiscoveryURL: l.srv.URL + "/auth", Audiences: []string{"fhir-api"}}}})
		if err := v.Verify(t.Context(), bearer(l.token(t, l.claims(now)), now)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a discovery document for another issuer is unavailable, not a client error", func(t *testing.T) {
		l := newLocalIdP(t)
		v := mustVerifier(t, Config{Issuers: []IssuerConfig{{Issuer: "JIMS-IMS-DEV", DiscoveryURL: l.srv.URL + "/auth", Audiences: []string{"fhir-api"}}}})
		c := l.claims(now)
		c["iss"] = "JIMS-IMS-DEV"
		f := refusal(t, v, bearer(l.token(t, c), now))
		if f.Status != 503 || !errors.Is(f.Err, pipeline.ErrUnavailable) {
			t.Fatalf("refused with %d %v, want 503", f.Status, f.Err)
		}
	})
	t.Run("an explicit jwks_uri needs no discovery", func(t *testing.T) {
		l := newLocalIdP(t)
		l.down.Store(false)
		v := mustVerifier(t, Config{Issuers: []IssuerConfig{{Issuer: "https://no-discovery.example", JWKSURL: l.srv.URL + "/jwks", Audiences: []string{"fhir-api"}}}})
		c := l.claims(now)
		c["iss"] = "https://no-discovery.example"
		if err := v.Verify(t.Context(), bearer(l.token(t, c), now)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("an issuer that is down at its first token answers 503", func(t *testing.T) {
		l := newLocalIdP(t)
		l.down.Store(true)
		v := mustVerifier(t, Config{Issuers: []IssuerConfig{{Issuer: l.issuer, Audiences: []string{"fhir-api"}}}})
		if f := refusal(t, v, bearer(l.token(t, l.claims(now)), now)); f.Status != 503 {
			t.Fatalf("refused with %d %v, want 503", f.Status, f.Err)
		}
		l.down.Store(false)
		if err := v.Verify(t.Context(), bearer(l.token(t, l.claims(now)), now)); err != nil {
			t.Fatalf("after the issuer came back: %v", err)
		}
	})
	t.Run("an ES256 token under the local issuer verifies", func(t *testing.T) {
		l := newLocalIdP(t)
		v := mustVerifier(t, Config{Issuers: []IssuerConfig{{Issuer: l.issuer, Audiences: []string{"fhir-api"}}}})
		tok := signRaw(t, l.ec, `{"alg":"ES256","kid":"`+localECKid+`"}`, mustJSON(t, l.claims(now)))
		if err := v.Verify(t.Context(), bearer(tok, now)); err != nil {
			t.Fatal(err)
		}
	})
}

func TestTheVerifiedTokenCache(t *testing.T) {
	l := newLocalIdP(t)
	now := time.Now()
	v := mustVerifier(t, Config{Issuers: []IssuerConfig{{Issuer: l.issuer, Audiences: []string{"fhir-api"}}}, CacheSize: 3})
	tok := l.token(t, l.claims(now))
	if err := v.Verify(t.Context(), bearer(tok, now)); err != nil {
		t.Fatal(err)
	}
	t.Run("a cached token verifies with the issuer down and no fetch", func(t *testing.T) {
		l.down.Store(true)
		defer l.down.Store(false)
		hits := l.jwksHits.Load()
		if err := v.Verify(t.Context(), bearer(tok, now.Add(time.Minute))); err != nil {
			t.Fatal(err)
		}
		if l.jwksHits.Load() != hits {
			t.Fatal("the cache hit fetched keys")
		}
	})
	t.Run("a cached token expires with the token", func(t *testing.T) {
		if f := refusal(t, v, bearer(tok, now.Add(6*time.Minute))); !errors.Is(f.Err, ErrExpired) {
			t.Fatalf("refused with %v, want ErrExpired", f.Err)
		}
	})
	t.Run("the cache stays within its bound", func(t *testing.T) {
		for i := range 10 {
			c := l.claims(now)
			c["jti"] = string(rune('a' + i))
			if err := v.Verify(t.Context(), bearer(l.token(t, c), now)); err != nil {
				t.Fatal(err)
			}
		}
		if n := v.cache.Len(); n > 3 {
			t.Fatalf("cache holds %d entries, bound 3", n)
		}
	})
	t.Run("max_age bounds a cached session", func(t *testing.T) {
		v := mustVerifier(t, Config{Issuers: []IssuerConfig{{Issuer: l.issuer, Audiences: []string{"fhir-api"}, MaxAge: time.Minute, ClockSkew: time.Second}}})
		if err := v.Verify(t.Context(), bearer(tok, now)); err != nil {
			t.Fatal(err)
		}
		if f := refusal(t, v, bearer(tok, now.Add(2*time.Minute))); !errors.Is(f.Err, ErrTooOld) {
			t.Fatalf("refused with %v, want ErrTooOld", f.Err)
		}
	})
}
