package oidc

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/healthgate/healthgate/policy/pipeline"
)

func TestWhereTokensMayCome(t *testing.T) {
	l := newLocalIdP(t)
	other := newLocalIdP(t)
	now := time.Now()
	v := mustVerifier(t, Config{Issuers: []IssuerConfig{
		{Issuer: l.issuer, Audiences: []string{"fhir-api"}, Cookie: "hg_at", Query: "access_token"},
		{Issuer: other.issuer, Audiences: []string{"fhir-api"}},
	}})
	tok := l.token(t, l.claims(now))
	otherTok := other.token(t, other.claims(now))

	tests := []struct {
		name   string
		setup  func(r *http.Request)
		want   error // nil: accepted
		status int
	}{
		{"a bearer header is accepted", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }, nil, 0},
		{"the scheme is case-insensitive", func(r *http.Request) { r.Header.Set("Authorization", "bearer "+tok) }, nil, 0},
		{"a configured cookie is accepted", func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "hg_at", Value: tok}) }, nil, 0},
		{"a configured query parameter is accepted", func(r *http.Request) { r.URL.RawQuery = "access_token=" + tok }, nil, 0},
		{"no token is no credentials", func(r *http.Request) {}, pipeline.ErrNoCredentials, 0},
		{"another scheme is left to other verifiers", func(r *http.Request) { r.Header.Set("Authorization", "CWS-SHA256 Access=u, Signature=x") }, pipeline.ErrNoCredentials, 0},
		{"two Authorization headers are a bad request", func(r *http.Request) {
			r.Header.Add("Authorization", "Bearer "+tok)
			r.Header.Add("Authorization", "Bearer "+tok)
		}, ErrRepeatedHeader, 400},
		{"a token in the header and a cookie is a bad request", func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer "+tok)
			r.AddCookie(&http.Cookie{Name: "hg_at", Value: tok})
		}, ErrMultipleSources, 400},
		{"a repeated query parameter is a bad request", func(r *http.Request) { r.URL.RawQuery = "access_token=" + tok + "&access_token=" + tok }, ErrMultipleSources, 400},
		{"a cookie of an issuer that did not allow cookies is refused", func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "hg_at", Value: otherTok}) }, ErrSource, 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := bearer("", now)
			tc.setup(req.HTTP)
			err := v.Verify(t.Context(), req)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if tc.status != 0 {
				if f := pipeline.AsFailure(err); f.Status != tc.status {
					t.Fatalf("status %d, want %d", f.Status, tc.status)
				}
			}
		})
	}
}
