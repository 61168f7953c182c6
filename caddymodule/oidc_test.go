package caddymodule

import (
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/google/go-cmp/cmp"
)

func TestOIDCCaddyfile(t *testing.T) {
	santedb := `
	oidc https://santedb.example.org/auth {
		audience fhir-api other-aud
		hs256_secret {env.HG_TEST_SANTEDB_SECRET}
		hs256_secret 54558ca5-c093-11ea-9f6f-00155d640b09 {env.HG_TEST_APP_SECRET}
		client_id fiddler
		typ JWT
		max_age 1h
		clock_skew 45s
		require_scope 1.3.6.1.4.1.33349.3.1.5.9.2.0
		allow_string_iat
		from_cookie hg_at
		claims {
			user nameid sub
			name unique_name
		}
		application_conflict ignore
		max_token_size 12KB
		realm santedb
	}`
	idp := `
	oidc https://idp.example {
		audience https://fhir.example/
		algorithms RS256 ES256
		jwks_uri https://idp.example/jwks
		from_query access_token
		jwks_refresh_limit 2/1m
		introspection https://idp.example/token/introspection {
			client_id gateway
			client_secret {env.HG_TEST_INTROSPECTION_SECRET}
			cache_ttl 2m
			negative_ttl 5s
		}
		cache_size 500
		http_timeout 3s
	}`
	o := new(OIDC)
	for _, block := range []string{santedb, idp} {
		if err := unmarshal(o, block); err != nil {
			t.Fatal(err)
		}
	}
	want := &OIDC{
		MaxTokenBytes: 12000, CacheSize: 500, Realm: "santedb", HTTPTimeout: caddy.Duration(3 * time.Second),
		Issuers: []*OIDCIssuer{{
			Issuer: "https://santedb.example.org/auth", Audiences: []string{"fhir-api", "other-aud"},
			HS256Secrets: []OIDCSecret{{Secret: "{env.HG_TEST_SANTEDB_SECRET}"},
				{KeyID: "54558ca5-c093-11ea-9f6f-00155d640b09", Secret: "{env.HG_TEST_APP_SECRET}"}},
			ClientIDs: []string{"fiddler"}, Typ: "JWT", MaxAge: caddy.Duration(time.Hour), ClockSkew: caddy.Duration(45 * time.Second),
			RequireScopes: []string{"1.3.6.1.4.1.33349.3.1.5.9.2.0"}, AllowStringIAT: true, FromCookie: "hg_at",
			Claims:              &OIDCClaims{User: []string{"nameid", "sub"}, Name: []string{"unique_name"}},
			ApplicationConflict: "ignore",
		}, {
			Issuer: "https://idp.example", Audiences: []string{"https://fhir.example/"}, Algorithms: []string{"RS256", "ES256"},
			JWKSURI: "https://idp.example/jwks", FromQuery: "access_token",
			JWKSRefreshBurst: 2, JWKSRefreshInterval: caddy.Duration(time.Minute),
			Introspection: &OIDCIntrospection{Endpoint: "https://idp.example/token/introspection", ClientID: "gateway",
				ClientSecret: "{env.HG_TEST_INTROSPECTION_SECRET}", CacheTTL: caddy.Duration(2 * time.Minute), NegativeTTL: caddy.Duration(5 * time.Second)},
		}},
	}
	if diff := cmp.Diff(want, o, cmp.AllowUnexported(OIDC{})); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}

	t.Run("placeholders resolve at provision and secrets never show in errors", func(t *testing.T) {
		t.Setenv("HG_TEST_SANTEDB_SECRET", strings.Repeat("s", 40))
		t.Setenv("HG_TEST_APP_SECRET", "too-short-secret")
		t.Setenv("HG_TEST_INTROSPECTION_SECRET", "gw-secret")
		ctx := testContext(t)
		err := o.Provision(ctx)
		if err == nil || !strings.Contains(err.Error(), "at least 32") || strings.Contains(err.Error(), "too-short-secret") {
			t.Fatalf("got %v, want a short-secret error without the secret", err)
		}
		_ = o.Cleanup()
		t.Setenv("HG_TEST_APP_SECRET", strings.Repeat("a", 32))
		o2 := *o
		if err := o2.Provision(ctx); err != nil {
			t.Fatal(err)
		}
		if err := o2.Cleanup(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("an unset secret variable fails provision naming the placeholder", func(t *testing.T) {
		ctx := testContext(t)
		o3 := &OIDC{Issuers: []*OIDCIssuer{{Issuer: "https://i", Audiences: []string{"a"}, HS256Secrets: []OIDCSecret{{Secret: "{env.HG_TEST_UNSET_SECRET}"}}}}}
		err := o3.Provision(ctx)
		if err == nil || !strings.Contains(err.Error(), "hs256_secret 1") || !strings.Contains(err.Error(), "HG_TEST_UNSET_SECRET") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestOIDCCaddyfileMistakes(t *testing.T) {
	tests := []struct{ name, input, want string }{
		{"an oidc block without an issuer is refused", "oidc {\n}", "issuer (the tokens' iss) is required"},
		{"two issuers on one line are refused", "oidc a b", `one issuer per oidc block, got also "b"`},
		{"an unknown option is refused by name", "oidc https://i {\n audiance x\n}", `unknown option "audiance"`},
		{"a bad duration is refused with its value", "oidc https://i {\n max_age soon\n}", `max_age: "soon" is not a duration`},
		{"a bad refresh limit is refused with its value", "oidc https://i {\n jwks_refresh_limit 3\n}", `jwks_refresh_limit "3"`},
		{"an unknown conflict rule is refused", "oidc https://i {\n application_conflict maybe\n}", `unknown application_conflict "maybe"`},
		{"introspection without credentials is refused", "oidc https://i {\n introspection https://i/x\n}", "client_id and client_secret are required"},
		{"an unknown claims attribute is refused", "oidc https://i {\n claims {\n  group g\n }\n}", `unknown attribute "group"`},
		{"a zero max_token_size is refused, not read as the default", "oidc https://i {\n max_token_size 0\n}", `max_token_size "0": want a positive size`},
		{"hs256_secret with three values is refused", "oidc https://i {\n hs256_secret a b c\n}", "want [<kid>] <secret>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkErr(t, unmarshal(new(OIDC), tc.input), tc.want)
		})
	}
	t.Run("the same issuer twice is refused", func(t *testing.T) {
		o := new(OIDC)
		_ = unmarshal(o, "oidc https://i {\n audience a\n}")
		checkErr(t, unmarshal(o, "oidc https://i {\n audience a\n}"), "issuer given twice")
	})
}
