package oidc

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/healthgate/healthgate/policy/audit"
	"github.com/healthgate/healthgate/policy/pipeline"
)

// parseErrors are the reasons parseJWT may give; any other error is a bug.
var parseErrors = []error{ErrTokenSize, ErrMalformed, ErrDuplicateKey, ErrAlgorithm, ErrHeader, ErrKeyID}

func fuzzSeeds(f *testing.F) {
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, s := range []string{
		b64(`{"alg":"HS256","kid":"k"}`) + "." + b64(`{"iss":"https://i","exp":1}`) + ".c2ln",
		b64(`{"alg":"none"}`) + "." + b64(`{"iss":"x"}`) + ".",
		b64(`{"alg":"RS256","alg":"none"}`) + "." + b64(`{"iss":"x"}`) + ".AA",
		b64(`{"alg":"RS256","crit":["b64"]}`) + "." + b64(`{"iss":"x"}`) + ".AA",
		b64(`{"alg":"RS256","jku":"https://evil"}`) + "." + b64(`{"iss":"x"}`) + ".AA",
		b64(`{"alg":"RS256","kid":"../x"}`) + "." + b64(`{"iss":"x","ISS":"y"}`) + ".AA",
		b64(`{"alg":"RS256"}`) + "." + b64(`{"iss":"x","a":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}`) + ".AA",
		"a.b.c", "..", "", "eyJ=.eyJ.x", `{"payload":"x"}`,
	} {
		f.Add(s)
	}
}

func FuzzParseJWT(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, raw string) {
		tok, err := parseJWT(raw, 4096)
		if err != nil {
			for _, want := range parseErrors {
				if errors.Is(err, want) {
					return
				}
			}
			t.Fatalf("unclassified error %v", err)
		}
		parts := strings.Split(raw, ".")
		if len(raw) > 4096 || len(parts) != 3 || parts[2] == "" {
			t.Fatalf("accepted %d bytes in %d parts", len(raw), len(parts))
		}
		for _, p := range parts {
			if !isBase64URL(p) {
				t.Fatalf("accepted a part outside base64url: %q", p)
			}
		}
		if tok.iss == "" || strings.EqualFold(tok.alg, "none") || (tok.kid != "" && !validKeyID(tok.kid)) {
			t.Fatalf("accepted iss %q alg %q kid %q", tok.iss, tok.alg, tok.kid)
		}
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var m map[string]json.RawMessage
		if json.Unmarshal(payload, &m) != nil || len(m) != len(tok.claims) {
			t.Fatalf("claims %v differ from the payload %q", tok.claims, payload)
		}
	})
}

func FuzzDecodeObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1,"A":2}`, `{"a":{"b":1,"b":2}}`, `{"a":[1,{"c":1}]} `, `[1]`, `{"a":1}{}`, `{"a":"\ud800"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeObject(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrDuplicateKey) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if m == nil || !json.Valid(b) {
			t.Fatalf("accepted invalid JSON %q", b)
		}
		seen := map[string]bool{}
		for k := range m {
			if seen[strings.ToLower(k)] {
				t.Fatalf("accepted case-duplicate member %q", k)
			}
			seen[strings.ToLower(k)] = true
		}
	})
}

// FuzzVerify drives whole requests through an HS256 verifier (no network):
// it never panics, refuses with a 4xx Failure, and accepts only tokens that
// pass the strict pre-parse.
func FuzzVerify(f *testing.F) {
	fuzzSeeds(f)
	secret := []byte(strings.Repeat("k", 32))
	now := time.Unix(1_800_000_000, 0)
	f.Add(signRaw(f, secret, `{"alg":"HS256"}`, `{"iss":"https://i","aud":"a","sub":"u","exp":1800000300,"iat":1800000000}`))
	v := mustVerifier(f, Config{Issuers: []IssuerConfig{{Issuer: "https://i", Audiences: []string{"a"}, HMACSecrets: []HMACSecret{{Secret: secret}}}}})
	f.Fuzz(func(t *testing.T, raw string) {
		req := bearer("", now)
		req.HTTP.Header.Set("Authorization", "Bearer "+raw)
		err := v.Verify(t.Context(), req)
		if err == nil {
			if _, perr := parseJWT(raw, DefaultMaxTokenBytes); perr != nil || req.Principal.User == nil {
				t.Fatalf("accepted %q (pre-parse %v, principal %+v)", raw, perr, req.Principal)
			}
			return
		}
		if errors.Is(err, pipeline.ErrNoCredentials) {
			return
		}
		var fl *pipeline.Failure
		if !errors.As(err, &fl) || fl.Status < 400 || fl.Status > 403 || fl.Err == nil {
			t.Fatalf("refused with %T %v", err, err)
		}
	})
}

// FuzzIntrospectionAnswer feeds arbitrary answers to the introspection
// parser: never a panic, and a session only for "active": true.
func FuzzIntrospectionAnswer(f *testing.F) {
	for _, s := range []string{
		`{"active":true,"aud":"a","exp":1800000300,"scope":"x y","client_id":"c","sub":"u"}`,
		`{"active":"true","aud":"a"}`, `{"active":false}`, `{"active":true,"active":false}`,
		`{"active":true,"aud":"a","exp":"1800000300"}`, `{"active":true,"aud":"a","iss":"https://evil"}`,
		`{"active":true,"aud":["a","b"],"cnf":{"x5t#S256":"abc"},"exp":1}`,
	} {
		f.Add([]byte(s))
	}
	is, err := newIssuer(IssuerConfig{Issuer: "https://i", Audiences: []string{"a"},
		Introspection: &IntrospectionConfig{Endpoint: "https://i/introspect", ClientID: "gw", ClientSecret: "s"}}, nil, 10, audit.Nop{})
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, b []byte) {
		claims, err := decodeObject(b)
		if err != nil {
			return
		}
		r := fromIntrospection(is, claims, now)
		if (r.s == nil) == (r.err == nil) {
			t.Fatalf("session %v and error %v", r.s, r.err)
		}
		if r.s != nil && string(bytes.TrimSpace(claims["active"])) != "true" {
			t.Fatalf("accepted an answer whose active is %s", claims["active"])
		}
	})
}

// FuzzBearerExtraction feeds arbitrary Authorization, cookie and query
// values: never a panic, and a token found is exactly one of them.
func FuzzBearerExtraction(f *testing.F) {
	f.Add("Bearer abc", "", "")
	f.Add("bearer  abc", "x", "y")
	f.Add("Basic Zm9vOmJhcg==", "", "t")
	src := &sources{cookies: []string{"hg_at"}, queries: []string{"access_token"}}
	f.Fuzz(func(t *testing.T, auth, cookie, query string) {
		r := bearer("", time.Unix(0, 0)).HTTP
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		if cookie != "" {
			r.Header.Set("Cookie", "hg_at="+cookie)
		}
		r.URL.RawQuery = "access_token=" + url.QueryEscape(query)
		if query == "" {
			r.URL.RawQuery = ""
		}
		tok, s, ok, err := src.extract(r)
		if err != nil || !ok {
			return
		}
		switch s.kind {
		case fromHeader:
			if !strings.HasSuffix(auth, tok) {
				t.Fatalf("token %q not from the header %q", tok, auth)
			}
		case fromCookie:
			if !strings.Contains(cookie, tok) {
				t.Fatalf("token %q not from the cookie %q", tok, cookie)
			}
		case fromQuery:
			if tok != query {
				t.Fatalf("token %q not the query %q", tok, query)
			}
		default:
			t.Fatalf("unknown source %v", s)
		}
	})
}
