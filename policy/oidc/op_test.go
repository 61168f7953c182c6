package oidc

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/healthgate/healthgate/policy/audit"
	"github.com/healthgate/healthgate/policy/identity"
	"github.com/healthgate/healthgate/policy/pipeline"
	"github.com/healthgate/healthgate/tests/harness"
)

const (
	fhirResource = "https://fhir.example/"
	userSID      = "2a348c6e-c158-11ea-9f6f-00155d640b09"
	appSID       = "54558ca5-c093-11ea-9f6f-00155d640b09"
)

// startOP starts the real OpenID Provider with the clients these tests use.
func startOP(t *testing.T) *harness.OP {
	t.Helper()
	user := map[string]any{
		"unique_name": "demoadmin", "role": []string{"ADMINISTRATORS", "CLINICAL"},
		"authmethod": "Password", "email": "administrator@santesuite.net", "appid": appSID,
		"isOverride": false, "patient": "Patient/123",
	}
	return harness.StartOP(t, harness.OPConfig{Clients: []harness.OPClient{
		{ID: "svc-rs", Secret: "secret-rs", Scope: "system/*.read openid", ExtraTokenClaims: user, JWTClaims: map[string]any{"sub": userSID}},
		{ID: "svc-es", Secret: "secret-es", Scope: "system/*.read", Alg: "ES256", ExtraTokenClaims: user, JWTClaims: map[string]any{"sub": userSID}},
		{ID: "svc-opaque", Secret: "secret-opaque", Scope: "system/*.read", Format: "opaque", ExtraTokenClaims: map[string]any{"role": "nurse"}},
		{ID: "gateway", Secret: "secret-gateway", Scope: "system/*.read"},
		{ID: "svc-oddkid", Secret: "secret-oddkid", Scope: "system/*.read", JWTHeader: map[string]any{"kid": "not-published"}},
	}})
}

func opIssuer(op *harness.OP) IssuerConfig {
	return IssuerConfig{
		Issuer: op.Issuer, Audiences: []string{fhirResource}, Type: "at+jwt",
		RequiredScopes: []string{"system/*.read"},
	}
}

func TestTokensFromARealOpenIDProvider(t *testing.T) {
	op := startOP(t)
	v := mustVerifier(t, Config{Issuers: []IssuerConfig{opIssuer(op)}})
	for _, client := range []string{"svc-rs", "svc-es"} {
		t.Run("a "+client+" access token maps to the principal", func(t *testing.T) {
			tok := op.Token(t, client, "system/*.read", fhirResource)
			req := bearer(tok, time.Now())
			if err := v.Verify(t.Context(), req); err != nil {
				t.Fatal(err)
			}
			p := req.Principal
			want := []*identity.Facet{
				{Kind: identity.Application, ID: appSID, Proof: identity.ProofClaim, Source: op.Issuer},
				{Kind: identity.User, ID: userSID, Name: "demoadmin", Proof: identity.ProofJWT, Source: op.Issuer},
			}
			if d := cmp.Diff(want, p.Facets()); d != "" {
				t.Fatalf("facets (-want +got):\n%s", d)
			}
			if d := cmp.Diff([]string{"system/*.read"}, p.Scopes); d != "" {
				t.Fatalf("scopes (-want +got):\n%s", d)
			}
			for name, want := range map[string][]string{
				"role": {"ADMINISTRATORS", "CLINICAL"}, "email": {"administrator@santesuite.net"},
				"authmethod": {"Password"}, "isOverride": {"false"}, "patient": {"Patient/123"}, "client_id": {client},
			} {
				if d := cmp.Diff(want, p.Claims[name]); d != "" {
					t.Errorf("claim %s (-want +got):\n%s", name, d)
				}
			}
			if p.Token == nil || p.Token.Issuer != op.Issuer || p.Token.Subject != userSID || p.Token.ClientID != client ||
				p.Token.AuthMethod != "Password" || p.Token.ID == "" || p.Token.Expiry.Before(time.Now()) {
				t.Fatalf("token facts %+v", p.Token)
			}
		})
	}
	t.Run("a token for another resource is refused for its audience", func(t *testing.T) {
		tok := op.Token(t, "svc-rs", "system/*.read", "https://billing.example/")
		if f := refusal(t, v, bearer(tok, time.Now())); !errors.Is(f.Err, ErrAudience) {
			t.Fatalf("refused with %v, want ErrAudience", f.Err)
		}
	})
	t.Run("a token without the required scope is refused with insufficient_scope", func(t *testing.T) {
		tok := op.Token(t, "svc-rs", "openid", fhirResource)
		f := refusal(t, v, bearer(tok, time.Now()))
		if !errors.Is(f.Err, ErrScope) || f.Status != 403 || !strings.Contains(f.Challenge, `error="insufficient_scope"`) {
			t.Fatalf("refused with %d %q %v", f.Status, f.Challenge, f.Err)
		}
	})
}

func TestRotatedKeysAreFetchedOnce(t *testing.T) {
	op := startOP(t)
	v := mustVerifier(t, Config{Issuers: []IssuerConfig{opIssuer(op)}})
	verify := func(client string) {
		t.Helper()
		if err := v.Verify(t.Context(), bearer(op.Token(t, client, "system/*.read", fhirResource), time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	verify("svc-rs")
	base := op.JWKSFetches()
	if base != 1 {
		t.Fatalf("first token: %d JWKS fetches, want 1", base)
	}
	op.Rotate(t, false)
	verify("svc-rs")
	verify("svc-es")
	verify("svc-rs")
	if got := op.JWKSFetches() - base; got != 1 {
		t.Fatalf("after rotation: %d more JWKS fetches, want 1", got)
	}
}

func TestKnownKeysKeepWorkingWhileTheProviderIsDown(t *testing.T) {
	op := startOP(t)
	v := mustVerifier(t, Config{Issuers: []IssuerConfig{opIssuer(op)}})
	if err := v.Verify(t.Context(), bearer(op.Token(t, "svc-rs", "system/*.read", fhirResource), time.Now())); err != nil {
		t.Fatal(err)
	}
	fresh := op.Token(t, "svc-es", "system/*.read", fhirResource)
	oddKid := op.Token(t, "svc-oddkid", "system/*.read", fhirResource)
	op.Stop()

	t.Run("a token under a known kid verifies without the provider", func(t *testing.T) {
		if err := v.Verify(t.Context(), bearer(fresh, time.Now())); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a token under an unknown kid is refused", func(t *testing.T) {
		before := op.JWKSFetches()
		if f := refusal(t, v, bearer(oddKid, time.Now())); !errors.Is(f.Err, ErrSignature) || f.Status != 401 {
			t.Fatalf("refused with %d %v, want 401 ErrSignature", f.Status, f.Err)
		}
		if op.JWKSFetches() != before+1 {
			t.Fatalf("the unknown kid tried %d fetches, want 1", op.JWKSFetches()-before)
		}
	})
}

func TestAFloodOfUnknownKidsCostsBoundedFetches(t *testing.T) {
	op := startOP(t)
	cfg := opIssuer(op)
	cfg.RefreshBurst, cfg.RefreshInterval = 2, time.Hour
	v := mustVerifier(t, Config{Issuers: []IssuerConfig{cfg}})
	tok := op.Token(t, "svc-rs", "system/*.read", fhirResource)
	if err := v.Verify(t.Context(), bearer(tok, time.Now())); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	for i := range 200 {
		h, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "at+jwt", "kid": fmt.Sprintf("flood-%d", i)})
		forged := base64.RawURLEncoding.EncodeToString(h) + "." + parts[1] + "." + parts[2]
		if f := refusal(t, v, bearer(forged, time.Now())); !errors.Is(f.Err, ErrSignature) {
			t.Fatalf("forged token %d refused with %v, want ErrSignature", i, f.Err)
		}
	}
	if got := op.JWKSFetches(); got > 2 {
		t.Fatalf("200 unknown kids caused %d JWKS fetches, the limit is 2", got)
	}
	t.Run("known keys still verify after the flood", func(t *testing.T) {
		if err := v.Verify(t.Context(), bearer(op.Token(t, "svc-es", "system/*.read", fhirResource), time.Now())); err != nil {
			t.Fatal(err)
		}
	})
}

func introspectingIssuer(op *harness.OP) IssuerConfig {
	cfg := opIssuer(op)
	cfg.Type = ""
	cfg.Introspection = &IntrospectionConfig{
		Endpoint: op.IntrospectionURL(), ClientID: "gateway", ClientSecret: op.Secret("gateway"),
		PositiveTTL: time.Minute, NegativeTTL: 10 * time.Second,
	}
	return cfg
}

func TestOpaqueTokensAreIntrospectedOnceThenCached(t *testing.T) {
	op := startOP(t)
	v := mustVerifier(t, Config{Issuers: []IssuerConfig{introspectingIssuer(op)}})
	tok := op.Token(t, "svc-opaque", "system/*.read", fhirResource)
	now := time.Now()
	for i := range 3 {
		req := bearer(tok, now.Add(time.Duration(i)*time.Second))
		if err := v.Verify(t.Context(), req); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		app := req.Principal.Application
		if app == nil || app.ID != "svc-opaque" || req.Principal.Claim("role") != "nurse" || req.Principal.User != nil {
			t.Fatalf("request %d: principal %+v", i, req.Principal)
		}
		if req.Principal.Token.ClientID != "svc-opaque" {
			t.Fatalf("token facts %+v", req.Principal.Token)
		}
	}
	if n := op.Introspections(); n != 1 {
		t.Fatalf("%d introspections for 3 requests, want 1", n)
	}
}

func TestARevokedOpaqueTokenIsRefusedOnceTheCacheLetsGo(t *testing.T) {
	op := startOP(t)
	cfg := introspectingIssuer(op)
	cfg.Introspection.PositiveTTL, cfg.Introspection.NegativeTTL = 2*time.Second, 5*time.Second
	v := mustVerifier(t, Config{Issuers: []IssuerConfig{cfg}})
	tok := op.Token(t, "svc-opaque", "system/*.read", fhirResource)
	t0 := time.Now()
	at := func(d time.Duration) error { return v.Verify(t.Context(), bearer(tok, t0.Add(d))) }

	if err := at(0); err != nil {
		t.Fatal(err)
	}
	op.Revoke(t, "svc-opaque", tok)
	steps := []struct {
		name           string
		at             time.Duration
		wantErr        error
		introspections int
	}{
		{"within the positive TTL the cached answer still holds", time.Second, nil, 1},
		{"after the positive TTL the revoked token is refused", 3 * time.Second, ErrInactive, 2},
		{"within the negative TTL the refusal is cached", 6 * time.Second, ErrInactive, 2},
		{"after the negative TTL the provider is asked again", 9 * time.Second, ErrInactive, 3},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			err := at(s.at)
			if !errors.Is(err, s.wantErr) || (s.wantErr == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, s.wantErr)
			}
			if n := op.Introspections(); n != s.introspections {
				t.Fatalf("%d introspections, want %d", n, s.introspections)
			}
		})
	}
}

func TestAnUnreachableIntrospectionEndpointFailsClosed(t *testing.T) {
	op := startOP(t)
	v := mustVerifier(t, Config{Issuers: []IssuerConfig{introspectingIssuer(op)}})
	tok := op.Token(t, "svc-opaque", "system/*.read", fhirResource)
	op.Stop()
	f := refusal(t, v, bearer(tok, time.Now()))
	if f.Status != 503 || !errors.Is(f.Err, pipeline.ErrUnavailable) {
		t.Fatalf("refused with %d %v, want 503 ErrUnavailable", f.Status, f.Err)
	}
	op.Restart(t)
	t.Run("the failure was not cached", func(t *testing.T) {
		// The restarted provider lost its in-memory tokens: now inactive.
		if f := refusal(t, v, bearer(tok, time.Now())); !errors.Is(f.Err, ErrInactive) {
			t.Fatalf("refused with %v, want ErrInactive", f.Err)
		}
	})
}

func TestIntrospectionAnswersForOtherTokenTypesAreRefused(t *testing.T) {
	is, err := newIssuer(IssuerConfig{Issuer: "https://i", Audiences: []string{"a"},
		Introspection: &IntrospectionConfig{Endpoint: "https://i/introspect", ClientID: "gw", ClientSecret: "s"}}, nil, 10, audit.Nop{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	answer := func(tokenType string) introspection {
		claims, err := decodeObject([]byte(`{"active":true,"aud":"a","exp":1800000300,"client_id":"c"` + tokenType + `}`))
		if err != nil {
			t.Fatal(err)
		}
		return fromIntrospection(is, claims, now)
	}
	for _, ok := range []string{``, `,"token_type":"Bearer"`, `,"token_type":"bearer"`} {
		if r := answer(ok); r.err != nil {
			t.Errorf("%s: refused with %v", ok, r.err)
		}
	}
	for _, bad := range []string{`,"token_type":"DPoP"`, `,"token_type":"refresh_token"`, `,"token_type":"Refresh"`, `,"token_type":1`} {
		if r := answer(bad); !errors.Is(r.err, ErrType) {
			t.Errorf("%s: got %v, want ErrType", bad, r.err)
		}
	}
}
