package oidc

import (
	"strings"
	"testing"
)

func TestConfigurationMistakesAreRefused(t *testing.T) {
	secret := []byte(strings.Repeat("s", 32))
	base := func() IssuerConfig {
		return IssuerConfig{Issuer: "https://idp.example", Audiences: []string{"fhir-api"}}
	}
	tests := []struct {
		name   string
		change func(c *IssuerConfig)
		want   string
	}{
		{"an issuer without an audience is refused", func(c *IssuerConfig) { c.Audiences = nil }, "audience is required"},
		{"audience * mixed with others is refused", func(c *IssuerConfig) { c.Audiences = []string{"*", "x"} }, `"*" cannot be combined`},
		{"alg none is refused", func(c *IssuerConfig) { c.Algorithms = []string{"none"} }, `algorithm "none" not supported`},
		{"HS256 mixed with RS256 is refused", func(c *IssuerConfig) {
			c.Algorithms = []string{"HS256", "RS256"}
			c.HMACSecrets = []HMACSecret{{Secret: secret}}
		}, "HS256 cannot be combined"},
		{"HS256 without a secret is refused", func(c *IssuerConfig) { c.Algorithms = []string{"HS256"} }, "go together"},
		{"a secret with RS256 is refused", func(c *IssuerConfig) {
			c.Algorithms = []string{"RS256"}
			c.HMACSecrets = []HMACSecret{{Secret: secret}}
		}, "go together"},
		{"a short HS256 secret is refused", func(c *IssuerConfig) { c.HMACSecrets = []HMACSecret{{Secret: []byte("fiddler")}} }, "at least 32"},
		{"an HS256 issuer with a jwks_uri is refused", func(c *IssuerConfig) {
			c.HMACSecrets = []HMACSecret{{Secret: secret}}
			c.JWKSURL = "https://idp.example/jwks"
		}, "no jwks_uri"},
		{"a secret kid with a slash is refused", func(c *IssuerConfig) { c.HMACSecrets = []HMACSecret{{KeyID: "a/b", Secret: secret}} }, "invalid kid"},
		{"introspection without credentials is refused", func(c *IssuerConfig) {
			c.Introspection = &IntrospectionConfig{Endpoint: "https://idp.example/introspect"}
		}, "client_id and client_secret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.change(&c)
			_, err := New(Config{Issuers: []IssuerConfig{c}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), string(secret)) {
				t.Fatalf("the error shows the secret: %v", err)
			}
		})
	}
	t.Run("two issuers that both introspect are refused", func(t *testing.T) {
		a, b := base(), base()
		b.Issuer = "https://other.example"
		for _, c := range []*IssuerConfig{&a, &b} {
			c.Introspection = &IntrospectionConfig{Endpoint: c.Issuer + "/introspect", ClientID: "gw", ClientSecret: "x"}
		}
		if _, err := New(Config{Issuers: []IssuerConfig{a, b}}); err == nil || !strings.Contains(err.Error(), "both introspect") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("an issuer given twice is refused", func(t *testing.T) {
		if _, err := New(Config{Issuers: []IssuerConfig{base(), base()}}); err == nil || !strings.Contains(err.Error(), "configured twice") {
			t.Fatalf("got %v", err)
		}
	})
}
