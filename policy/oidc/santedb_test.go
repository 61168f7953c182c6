package oidc

import (
	"errors"
	"fmt"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/healthgate/healthgate/policy/identity"
)

const santeIssuer = "https://elbonia.santesuite.net:8443/auth"

// seed001Claims are the id_token claims of SanteDB's OpenID Connect page
// (seeds/001), with the times moved to now. iat stays a decimal string, as
// SanteDB 2.x sends it.
func seed001Claims(now time.Time) map[string]any {
	return map[string]any{
		"unique_name": "demoadmin",
		"role":        "ADMINISTRATORS",
		"authmethod":  "Password",
		"nameid":      "2a348c6e-c158-11ea-9f6f-00155d640b09",
		"actort":      "33932b42-6f4b-4659-8849-6aca54139d8e",
		"email":       "administrator@santesuite.net",
		"appid":       "54558ca5-c093-11ea-9f6f-00155d640b09",
		"scope": []string{
			"1.3.6.1.4.1.33349.3.1.5.9.2.0",
			"1.3.6.1.4.1.33349.3.1.5.9.2.1",
			"1.3.6.1.4.1.33349.3.1.5.9.2.10",
			"1.3.6.1.4.1.33349.3.1.5.9.2.4",
			"1.3.6.1.4.1.33349.3.1.5.9.2.6",
			"1.3.6.1.4.1.33349.3.1.5.9.2.2",
		},
		"jti": "D4BE3C469CE8EA11A4D800155D640B09B936F76D94711250935D5ECFD214D9372552A891B010C8470602D9E56D351D7E",
		"iat": fmt.Sprintf("%d.8982", now.Unix()),
		"exp": now.Add(30 * time.Minute).Unix(),
		"sub": "2a348c6e-c158-11ea-9f6f-00155d640b09",
		"iss": santeIssuer,
		"nbf": now.Unix(),
	}
}

// signHS256 makes a token with go-jose, as SanteDB would: HS256 with the
// client secret and kid = the application id.
func signHS256(t testing.TB, secret []byte, kid string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: secret}, opts)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign([]byte(mustJSON(t, claims)))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestASanteDBHS256TokenMapsToThePrincipal(t *testing.T) {
	appSecret := []byte("fiddler-client-secret-of-32-bytes!!")
	serverSecret := []byte("santedb-server-default-hmac-key-0123456789")
	now := time.Now()
	cfg := func(stringIAT bool) Config {
		return Config{Issuers: []IssuerConfig{{
			Issuer:    santeIssuer,
			Audiences: []string{"*"}, // seed 001's token carries no aud
			HMACSecrets: []HMACSecret{
				{Secret: serverSecret},
				{KeyID: appSID, Secret: appSecret},
			},
			AllowStringIAT: stringIAT,
		}}}
	}
	v := mustVerifier(t, cfg(true))

	t.Run("a token signed with the application's secret maps as SanteDB means it", func(t *testing.T) {
		req := bearer(signHS256(t, appSecret, appSID, seed001Claims(now)), now)
		if err := v.Verify(t.Context(), req); err != nil {
			t.Fatal(err)
		}
		p := req.Principal
		want := []*identity.Facet{
			{Kind: identity.Application, ID: appSID, Proof: identity.ProofClaim, Source: santeIssuer},
			{Kind: identity.User, ID: userSID, Name: "demoadmin", Proof: identity.ProofJWT, Source: santeIssuer},
		}
		if d := cmp.Diff(want, p.Facets()); d != "" {
			t.Fatalf("facets (-want +got):\n%s", d)
		}
		if d := cmp.Diff(seed001Claims(now)["scope"], p.Scopes); d != "" {
			t.Fatalf("scopes (-want +got):\n%s", d)
		}
		for name, want := range map[string]string{"role": "ADMINISTRATORS", "email": "administrator@santesuite.net",
			"actort": "33932b42-6f4b-4659-8849-6aca54139d8e", "nameid": userSID} {
			if got := p.Claim(name); got != want {
				t.Errorf("claim %s = %q, want %q", name, got, want)
			}
		}
		wantTok := identity.Token{Issuer: santeIssuer, Subject: userSID, ID: seed001Claims(now)["jti"].(string),
			AuthMethod: "Password", Expiry: time.Unix(now.Add(30*time.Minute).Unix(), 0)}
		if d := cmp.Diff(&wantTok, p.Token); d != "" {
			t.Fatalf("token facts (-want +got):\n%s", d)
		}
	})
	t.Run("a token signed with the server's default secret is accepted", func(t *testing.T) {
		if err := v.Verify(t.Context(), bearer(signHS256(t, serverSecret, "", seed001Claims(now)), now)); err != nil {
			t.Fatal(err)
		}
	})
	tests := []struct {
		name  string
		v     *Verifier
		token string
		want  error
	}{
		{"a client secret cannot vouch for another application's token", v, func() string {
			c := seed001Claims(now)
			c["appid"] = "another-application"
			return signHS256(t, appSecret, appSID, c)
		}(), ErrSignature},
		{"a token signed with a wrong secret is refused", v, signHS256(t, []byte("not-the-secret-not-the-secret-!!"), appSID, seed001Claims(now)), ErrSignature},
		{"an RS256 token is refused by an HS256 issuer", v, func() string {
			l := newLocalIdP(t)
			return signRaw(t, l.rsa, `{"alg":"RS256","kid":"x"}`, mustJSON(t, seed001Claims(now)))
		}(), ErrAlgorithm},
		{"SanteDB's string iat is refused unless allowed", mustVerifier(t, cfg(false)), signHS256(t, appSecret, appSID, seed001Claims(now)), ErrTimeClaim},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if f := refusal(t, tc.v, bearer(tc.token, now)); !errors.Is(f.Err, tc.want) {
				t.Fatalf("refused with %v, want %v", f.Err, tc.want)
			}
		})
	}
}
