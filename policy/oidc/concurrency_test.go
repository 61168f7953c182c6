package oidc

import (
	"sync"
	"testing"
	"time"
)

func TestConcurrentRequestsWithOneOpaqueTokenShareOneIntrospection(t *testing.T) {
	op := startOP(t)
	v := mustVerifier(t, Config{Issuers: []IssuerConfig{introspectingIssuer(op)}})
	tok := op.Token(t, "svc-opaque", "system/*.read", fhirResource)
	now := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() { errs <- v.Verify(t.Context(), bearer(tok, now)) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := op.Introspections(); n != 1 {
		t.Fatalf("%d introspections for 20 concurrent requests, want 1", n)
	}
}

func TestACachedSessionIsNotChangedByWhatLaterPolicyDoesToThePrincipal(t *testing.T) {
	l := newLocalIdP(t)
	now := time.Now()
	v := mustVerifier(t, Config{Issuers: []IssuerConfig{{Issuer: l.issuer, Audiences: []string{"fhir-api"}}}})
	c := l.claims(now)
	c["role"] = []string{"nurse"}
	tok := l.token(t, c)
	first := bearer(tok, now)
	if err := v.Verify(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	first.Principal.Claims["role"][0] = "admin"
	first.Principal.Scopes[0] = "everything"
	first.Principal.Token.Subject = "someone-else"

	second := bearer(tok, now)
	if err := v.Verify(t.Context(), second); err != nil {
		t.Fatal(err)
	}
	p := second.Principal
	if p.Claim("role") != "nurse" || p.Scopes[0] != "system/*.read" || p.Token.Subject != "user-1" {
		t.Fatalf("the cache handed on another request's changes: role %q scopes %q sub %q", p.Claim("role"), p.Scopes, p.Token.Subject)
	}
}
