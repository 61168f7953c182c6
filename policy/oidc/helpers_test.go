package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/healthgate/healthgate/policy/pipeline"
)

// localIdP is a hand-made issuer for tokens the real OP cannot mint (alg
// none, duplicate members, crafted headers) and for failure injection: its
// JWKS endpoint can go down and counts its hits.
type localIdP struct {
	srv      *httptest.Server
	rsa      *rsa.PrivateKey
	ec       *ecdsa.PrivateKey
	down     atomic.Bool
	jwksHits atomic.Int64
	issuer   string
}

const (
	localRSAKid = "rsa-local-1"
	localECKid  = "ec-local-1"
)

func newLocalIdP(t testing.TB) *localIdP {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	l := &localIdP{rsa: rk, ec: ek}
	mux := http.NewServeMux()
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		l.jwksHits.Add(1)
		if l.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &rk.PublicKey, KeyID: localRSAKid, Algorithm: "RS256", Use: "sig"},
			{Key: &ek.PublicKey, KeyID: localECKid, Algorithm: "ES256", Use: "sig"},
		}})
	})
	discovery := func(w http.ResponseWriter, r *http.Request) {
		if l.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": l.issuer, "jwks_uri": l.srv.URL + "/jwks"})
	}
	mux.HandleFunc("/.well-known/openid-configuration", discovery)
	mux.HandleFunc("/auth/.well-known/openid-configuration", discovery)
	l.srv = httptest.NewServer(mux)
	t.Cleanup(l.srv.Close)
	l.issuer = l.srv.URL
	return l
}

// claims returns valid claims of the local issuer at now.
func (l *localIdP) claims(now time.Time) map[string]any {
	return map[string]any{
		"iss": l.issuer, "aud": "fhir-api", "sub": "user-1", "client_id": "app-1",
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "jti": "j-1",
		"scope": "system/*.read openid",
	}
}

// token signs claims with the RSA key under the default header.
func (l *localIdP) token(t testing.TB, claims map[string]any) string {
	t.Helper()
	return signRaw(t, l.rsa, mustJSON(t, map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": localRSAKid}), mustJSON(t, claims))
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// signRaw signs exactly the header and payload bytes given, so tests can
// send JSON no encoder would write. The alg comes from the key: RS256 for
// RSA, ES256 for P-256, HS256 for []byte.
func signRaw(t testing.TB, key any, header, payload string) string {
	t.Helper()
	input := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	var err error
	switch k := key.(type) {
	case *rsa.PrivateKey:
		sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digest[:])
	case *ecdsa.PrivateKey:
		var r, s []byte
		rr, ss, e := ecdsa.Sign(rand.Reader, k, digest[:])
		err = e
		if e == nil {
			r, s = rr.FillBytes(make([]byte, 32)), ss.FillBytes(make([]byte, 32))
			sig = append(r, s...)
		}
	case []byte:
		m := hmac.New(sha256.New, k)
		m.Write([]byte(input))
		sig = m.Sum(nil)
	case nil:
		return input + "."
	default:
		t.Fatalf("signRaw: key %T", key)
	}
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// bearer makes a pipeline request carrying the token in Authorization.
func bearer(tok string, now time.Time) *pipeline.Request {
	r := httptest.NewRequest(http.MethodGet, "https://gw.example/fhir/Patient", nil)
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	return pipeline.NewRequest(r, &pipeline.Route{}, now)
}

func mustVerifier(t testing.TB, cfg Config) *Verifier {
	t.Helper()
	v, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

// refusal runs Verify and returns its Failure, failing the test on success.
func refusal(t testing.TB, v *Verifier, req *pipeline.Request) *pipeline.Failure {
	t.Helper()
	err := v.Verify(context.Background(), req)
	if err == nil {
		t.Fatalf("Verify accepted the token; principal %+v", req.Principal)
	}
	var f *pipeline.Failure
	if !errors.As(err, &f) {
		t.Fatalf("Verify returned %T %v, want *pipeline.Failure", err, err)
	}
	return f
}
