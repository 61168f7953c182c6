package oidc

import (
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/healthgate/healthgate/policy/pipeline"
)

// BenchmarkVerify measures Verify against bare go-jose verification of the
// same token (the baseline): a cache hit, and a cache miss (strict
// pre-parse, go-oidc, claim checks, mapping) for RS256-2048 and ES256.
//
//	go test -run '^$' -bench . -benchmem ./policy/oidc
func BenchmarkVerify(b *testing.B) {
	l := newLocalIdP(b)
	now := time.Now()
	rs := l.token(b, l.claims(now))
	es := signRaw(b, l.ec, `{"alg":"ES256","typ":"at+jwt","kid":"`+localECKid+`"}`, mustJSON(b, l.claims(now)))
	cfg := func(size int) Config {
		return Config{Issuers: []IssuerConfig{{Issuer: l.issuer, Audiences: []string{"fhir-api"}}}, CacheSize: size}
	}
	cached, uncached := mustVerifier(b, cfg(0)), mustVerifier(b, cfg(-1))
	for _, tok := range []string{rs, es} { // fetch the keys, fill the cache
		for _, v := range []*Verifier{cached, uncached} {
			if err := v.Verify(b.Context(), bearer(tok, now)); err != nil {
				b.Fatal(err)
			}
		}
	}
	verify := func(v *Verifier, tok string) func(b *testing.B) {
		return func(b *testing.B) {
			r := bearer(tok, now).HTTP
			b.ReportAllocs()
			for b.Loop() {
				if err := v.Verify(b.Context(), pipeline.NewRequest(r, nil, now)); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	bare := func(tok string, alg jose.SignatureAlgorithm, key any) func(b *testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{alg})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := jws.Verify(key); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.Run("go-jose/RS256-2048", bare(rs, jose.RS256, &l.rsa.PublicKey))
	b.Run("go-jose/ES256", bare(es, jose.ES256, &l.ec.PublicKey))
	b.Run("hit/RS256-2048", verify(cached, rs))
	b.Run("miss/RS256-2048", verify(uncached, rs))
	b.Run("miss/ES256", verify(uncached, es))
}
