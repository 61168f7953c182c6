package oidc

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestMaliciousTokensAreRefusedForTheRightReason(t *testing.T) {
	l := newLocalIdP(t)
	now := time.Now()
	var elsewhere atomic.Int64
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	t.Cleanup(evil.Close)

	v := mustVerifier(t, Config{Issuers: []IssuerConfig{{
		Issuer: l.issuer, Audiences: []string{"fhir-api"}, Algorithms: []string{"RS256", "ES256"},
	}}, CacheSize: -1})

	hdr := func(extra map[string]any) string {
		h := map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": localRSAKid}
		for k, v := range extra {
			h[k] = v
		}
		return mustJSON(t, h)
	}
	with := func(change map[string]any) string {
		c := l.claims(now)
		for k, v := range change {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return mustJSON(t, c)
	}
	pubPEM := func() []byte {
		der, err := x509.MarshalPKIXPublicKey(&l.rsa.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}()
	valid := l.token(t, l.claims(now))
	parts := strings.Split(valid, ".")

	tests := []struct {
		name   string
		token  string
		want   error
		status int
	}{
		{"a token signed with alg none is refused", signRaw(t, nil, hdr(map[string]any{"alg": "none"}), with(nil)), ErrAlgorithm, 401},
		{"a token with alg NONE in capitals is refused", signRaw(t, nil, hdr(map[string]any{"alg": "NONE"}), with(nil)), ErrAlgorithm, 401},
		{"an HS256 token keyed with the issuer's RSA public key is refused", signRaw(t, pubPEM, hdr(map[string]any{"alg": "HS256"}), with(nil)), ErrAlgorithm, 401},
		{"a kid with path characters is refused", signRaw(t, l.rsa, hdr(map[string]any{"kid": "../../etc/passwd"}), with(nil)), ErrKeyID, 401},
		{"a kid with SQL characters is refused", signRaw(t, l.rsa, hdr(map[string]any{"kid": "x' OR '1'='1"}), with(nil)), ErrKeyID, 401},
		{"a kid that is not a string is refused", signRaw(t, l.rsa, hdr(map[string]any{"kid": 7}), with(nil)), ErrMalformed, 401},
		{"a jku header pointing elsewhere is refused unfetched", signRaw(t, l.rsa, hdr(map[string]any{"jku": evil.URL + "/jwks"}), with(nil)), ErrHeader, 401},
		{"an x5u header pointing elsewhere is refused unfetched", signRaw(t, l.rsa, hdr(map[string]any{"x5u": evil.URL + "/cert.pem"}), with(nil)), ErrHeader, 401},
		{"an embedded jwk header is refused", signRaw(t, l.rsa, hdr(map[string]any{"jwk": map[string]any{"kty": "oct", "k": "AAAA"}}), with(nil)), ErrHeader, 401},
		{"an unknown crit header is refused", signRaw(t, l.rsa, hdr(map[string]any{"crit": []string{"exp-ext"}, "exp-ext": 1}), with(nil)), ErrHeader, 401},
		{"an expired token is refused", signRaw(t, l.rsa, hdr(nil), with(map[string]any{"exp": now.Add(-time.Hour).Unix()})), ErrExpired, 401},
		{"a token with nbf in the future is refused", signRaw(t, l.rsa, hdr(nil), with(map[string]any{"nbf": now.Add(time.Hour).Unix()})), ErrNotYetValid, 401},
		{"a token issued in the future is refused", signRaw(t, l.rsa, hdr(nil), with(map[string]any{"iat": now.Add(time.Hour).Unix()})), ErrIssuedInFuture, 401},
		{"a token without exp is refused", signRaw(t, l.rsa, hdr(nil), with(map[string]any{"exp": nil})), ErrTimeClaim, 401},
		{"a token with exp as a string is refused", signRaw(t, l.rsa, hdr(nil), with(map[string]any{"exp": "99999999999"})), ErrTimeClaim, 401},
		{"a token of an unknown issuer is refused", signRaw(t, l.rsa, hdr(nil), with(map[string]any{"iss": "https://evil.example"})), ErrUnknownIssuer, 401},
		{"a token for another audience is refused", signRaw(t, l.rsa, hdr(nil), with(map[string]any{"aud": []string{"billing-api"}})), ErrAudience, 401},
		{"a token signed by another key under a known kid is refused", func() string {
			other := newLocalIdP(t)
			return signRaw(t, other.rsa, hdr(nil), with(nil))
		}(), ErrSignature, 401},
		{"an oversized token is refused", signRaw(t, l.rsa, hdr(nil), with(map[string]any{"pad": strings.Repeat("A", DefaultMaxTokenBytes)})), ErrTokenSize, 401},
		{"padded base64 is refused", parts[0] + "=." + parts[1] + "." + parts[2], ErrMalformed, 401},
		{"base64 with the standard alphabet is refused", strings.Replace(valid, "-", "+", 1) + strings.Repeat("", 0), ErrMalformed, 401},
		{"a payload that is not JSON is refused", signRaw(t, l.rsa, hdr(nil), `{"iss":`), ErrMalformed, 401},
		{"a payload that is a JSON array is refused", signRaw(t, l.rsa, hdr(nil), `["iss"]`), ErrMalformed, 401},
		{"a payload with data after the object is refused", signRaw(t, l.rsa, hdr(nil), with(nil)+`{}`), ErrMalformed, 401},
		{"a duplicate iss claim is refused", signRaw(t, l.rsa, hdr(nil), `{"iss":"https://evil.example",`+with(nil)[1:]), ErrDuplicateKey, 401},
		{"an iss claim repeated in other case is refused", signRaw(t, l.rsa, hdr(nil), `{"ISS":"https://evil.example",`+with(nil)[1:]), ErrDuplicateKey, 401},
		{"a duplicate alg header is refused", signRaw(t, l.rsa, `{"alg":"none",`+hdr(nil)[1:], with(nil)), ErrDuplicateKey, 401},
		{"a token with four parts is not a JWS and, without introspection, is refused", valid + ".AAAA", ErrNoIntrospection, 401},
		{"a token with an empty signature is refused", parts[0] + "." + parts[1] + ".", ErrMalformed, 401},
	}
	// Fetch the keys once, so only a token needing new keys fetches again.
	if err := v.Verify(t.Context(), bearer(valid, now)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := l.jwksHits.Load()
			f := refusal(t, v, bearer(tc.token, now))
			if !errors.Is(f.Err, tc.want) {
				t.Fatalf("refused with %v, want %v", f.Err, tc.want)
			}
			if f.Status != tc.status || f.Reason != "invalid_token" {
				t.Fatalf("status %d reason %q, want %d invalid_token", f.Status, f.Reason, tc.status)
			}
			if want := `Bearer realm="healthgate", error="invalid_token"`; f.Challenge != want {
				t.Fatalf("challenge %q, want %q", f.Challenge, want)
			}
			if tc.want != ErrSignature && l.jwksHits.Load() != before {
				t.Fatalf("a token signed under a known kid fetched the JWKS")
			}
		})
	}
	if n := elsewhere.Load(); n != 0 {
		t.Fatalf("the server named in jku/x5u got %d requests", n)
	}
	t.Run("the valid token they were made from is accepted", func(t *testing.T) {
		if err := v.Verify(t.Context(), bearer(valid, now)); err != nil {
			t.Fatal(err)
		}
	})
}

func TestWhitespaceAndJSONSerializationAreRefused(t *testing.T) {
	l := newLocalIdP(t)
	v := mustVerifier(t, Config{Issuers: []IssuerConfig{{Issuer: l.issuer, Audiences: []string{"fhir-api"}}}})
	now := time.Now()
	valid := l.token(t, l.claims(now))
	p := strings.Split(valid, ".")
	tests := []struct{ name, header string }{
		{"a space inside the token is refused", "Bearer " + p[0] + ". " + p[1] + "." + p[2]},
		{"a tab inside the token is refused", "Bearer " + p[0] + ".\t" + p[1] + "." + p[2]},
		{"the JWS JSON serialization is refused", `Bearer {"payload":"` + p[1] + `","protected":"` + p[0] + `","signature":"` + p[2] + `"}`},
		{"an empty bearer token is refused", "Bearer "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := bearer("", now)
			req.HTTP.Header.Set("Authorization", tc.header)
			if f := refusal(t, v, req); !errors.Is(f.Err, ErrMalformed) {
				t.Fatalf("refused with %v, want ErrMalformed", f.Err)
			}
		})
	}
}
