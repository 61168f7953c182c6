package tests

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/healthgate/healthgate/internal/devpki"
	"github.com/healthgate/healthgate/tests/harness"
)

const (
	oidcResource = "https://fhir.example/"
	oidcUser     = "2a348c6e-c158-11ea-9f6f-00155d640b09"
	oidcApp      = "54558ca5-c093-11ea-9f6f-00155d640b09"
)

// oidcClients are the OP's clients: JWTs (RS256, ES256, one with a kid the
// OP does not publish), opaque tokens, and the gateway's own client for
// introspection. SanteDB-shaped claims ride on every token.
func oidcClients(extra ...harness.OPClient) []harness.OPClient {
	user := map[string]any{"unique_name": "demoadmin", "role": "CLINICAL", "authmethod": "Password", "appid": oidcApp}
	sub := map[string]any{"sub": oidcUser}
	return append([]harness.OPClient{
		{ID: "svc-rs", Secret: "secret-rs", Scope: "system/*.read", ExtraTokenClaims: user, JWTClaims: sub},
		{ID: "svc-es", Secret: "secret-es", Scope: "system/*.read", Alg: "ES256", ExtraTokenClaims: user, JWTClaims: sub},
		{ID: "svc-oddkid", Secret: "secret-oddkid", Scope: "system/*.read", JWTHeader: map[string]any{"kid": "not-published"}},
		{ID: "svc-opaque", Secret: "secret-opaque", Scope: "system/*.read", Format: "opaque", ExtraTokenClaims: map[string]any{"appid": "opaque-app"}},
		{ID: "gateway", Secret: "secret-gateway", Scope: "system/*.read"},
	}, extra...)
}

// oidcBlock is the oidc sub-directive for the OP.
func oidcBlock(op *harness.OP, extra string) string {
	return fmt.Sprintf(`oidc %s {
			audience %s
			typ at+jwt
			require_scope system/*.read
			jwks_refresh_limit 2/1h
			introspection %s {
				client_id gateway
				client_secret {env.HG_OIDC_INTROSPECTION_SECRET}
				cache_ttl 1s
				negative_ttl 1m
			}
			%s
		}`, op.Issuer, oidcResource, op.IntrospectionURL(), extra)
}

type oidcFixture struct {
	op  *harness.OP
	pki *harness.PKI
	up  *harness.Upstream
	gw  *harness.Gateway
	cfg harness.Config
}

func newOIDCFixture(t *testing.T) *oidcFixture {
	t.Helper()
	f := &oidcFixture{op: harness.StartOP(t, harness.OPConfig{Clients: oidcClients()}), pki: harness.NewPKI(t), up: harness.NewUpstream(t)}
	f.cfg = harness.Config{
		Env: []string{"HG_OIDC_INTROSPECTION_SECRET=" + f.op.Secret("gateway")},
		Caddyfile: siteWith(f.pki, f.up, fmt.Sprintf(`healthgate {
		%s
	}
	handle_errors {
		respond "{healthgate.reason}" {err.status_code}
	}`, oidcBlock(f.op, ""))),
	}
	f.gw = harness.Start(t, f.cfg)
	return f
}

// get sends a GET with the given Authorization values and returns status,
// headers and body.
func (f *oidcFixture) get(t *testing.T, auth ...string) (int, http.Header, string) {
	t.Helper()
	hdr := http.Header{}
	for _, a := range auth {
		hdr.Add("Authorization", a)
	}
	resp := send(t, f.pki.Client(nil), http.MethodGet, f.gw.URL("/fhir/Patient/1"), hdr, "")
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestOIDCBearerTokensThroughTheGateway(t *testing.T) {
	f := newOIDCFixture(t)
	curl := harness.RequireTool(t, "curl")

	t.Run("a valid token reaches the upstream with the mapped identity (curl)", func(t *testing.T) {
		tok := f.op.Token(t, "svc-rs", "system/*.read", oidcResource)
		out, err := exec.Command(curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", f.pki.CAFile,
			"-H", "Authorization: Bearer "+tok, f.gw.URL("/fhir/Patient/1")).CombinedOutput()
		if err != nil || string(out) != "200" {
			t.Fatalf("curl: %v %s", err, out)
		}
		h := f.up.Last().Header
		for name, want := range map[string]string{
			"X-Healthgate-User": oidcUser, "X-Healthgate-User-Name": "demoadmin",
			"X-Healthgate-Application": oidcApp, "X-Healthgate-Scopes": "system/*.read",
		} {
			if got := h.Get(name); got != want {
				t.Errorf("upstream %s = %q, want %q", name, got, want)
			}
		}
	})
	t.Run("an ES256 token is accepted", func(t *testing.T) {
		if status, _, body := f.get(t, "Bearer "+f.op.Token(t, "svc-es", "system/*.read", oidcResource)); status != 200 {
			t.Fatalf("%d %s", status, body)
		}
	})
	t.Run("no token is refused with a Bearer challenge", func(t *testing.T) {
		status, h, _ := f.get(t)
		if status != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer ") {
			t.Fatalf("%d %q", status, h.Get("WWW-Authenticate"))
		}
	})
	t.Run("a forged token is refused with invalid_token and never echoed", func(t *testing.T) {
		before := f.up.Count()
		tok := f.op.Token(t, "svc-rs", "system/*.read", oidcResource)
		p := strings.Split(tok, ".")
		none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt"}`)) + "." + p[1] + "."
		for _, forged := range []string{none, p[0] + "." + p[1] + "." + p[2][:len(p[2])-4] + "AAAA"} {
			status, h, body := f.get(t, "Bearer "+forged)
			if status != 401 || h.Get("WWW-Authenticate") != `Bearer realm="healthgate", error="invalid_token"` || body != "invalid_token" {
				t.Fatalf("%d %q %q", status, h.Get("WWW-Authenticate"), body)
			}
			if strings.Contains(body, p[1]) || strings.Contains(f.gw.Logs(), p[1]) {
				t.Fatal("the token shows in the answer or the log")
			}
		}
		if f.up.Count() != before {
			t.Fatal("a forged token reached the upstream")
		}
	})
	t.Run("two Authorization headers are a bad request", func(t *testing.T) {
		tok := "Bearer " + f.op.Token(t, "svc-rs", "system/*.read", oidcResource)
		if status, _, body := f.get(t, tok, tok); status != 400 || body != "invalid_request" {
			t.Fatalf("%d %s", status, body)
		}
	})
	t.Run("a token without the required scope is forbidden", func(t *testing.T) {
		status, h, body := f.get(t, "Bearer "+f.op.Token(t, "svc-rs", "", oidcResource))
		if status != 403 || body != "insufficient_scope" || !strings.Contains(h.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
			t.Fatalf("%d %q %s", status, h.Get("WWW-Authenticate"), body)
		}
	})
}

func TestOIDCKeysRotateAndSurviveAnOutage(t *testing.T) {
	f := newOIDCFixture(t)
	ok := func(t *testing.T, client string) {
		t.Helper()
		if status, _, body := f.get(t, "Bearer "+f.op.Token(t, client, "system/*.read", oidcResource)); status != 200 {
			t.Fatalf("%s: %d %s", client, status, body)
		}
	}
	ok(t, "svc-rs")
	if n := f.op.JWKSFetches(); n != 1 {
		t.Fatalf("%d JWKS fetches for the first token, want 1", n)
	}
	t.Run("a config reload keeps the fetched keys", func(t *testing.T) {
		if err := f.gw.Reload(t, f.cfg); err != nil {
			t.Fatal(err)
		}
		ok(t, "svc-es")
		if n := f.op.JWKSFetches(); n != 1 {
			t.Fatalf("%d JWKS fetches after the reload, want 1", n)
		}
	})
	t.Run("after a key rotation new tokens are accepted after one refetch", func(t *testing.T) {
		f.op.Rotate(t, false)
		ok(t, "svc-rs")
		ok(t, "svc-es")
		if n := f.op.JWKSFetches(); n != 2 {
			t.Fatalf("%d JWKS fetches, want 2", n)
		}
	})
	t.Run("a flood of unknown kids stays within the refetch limit", func(t *testing.T) {
		tok := f.op.Token(t, "svc-rs", "system/*.read", oidcResource)
		p := strings.Split(tok, ".")
		for i := range 40 {
			h, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "at+jwt", "kid": "flood-" + strconv.Itoa(i)})
			if status, _, _ := f.get(t, "Bearer "+base64.RawURLEncoding.EncodeToString(h)+"."+p[1]+"."+p[2]); status != 401 {
				t.Fatalf("flood token %d: %d", i, status)
			}
		}
		if n := f.op.JWKSFetches(); n > 2 {
			t.Fatalf("%d JWKS fetches, the limit is 2 per hour", n)
		}
	})
	t.Run("with the provider down cached keys verify and unknown kids are refused", func(t *testing.T) {
		fresh := f.op.Token(t, "svc-es", "system/*.read", oidcResource)
		odd := f.op.Token(t, "svc-oddkid", "system/*.read", oidcResource)
		f.op.Stop()
		defer f.op.Restart(t)
		if status, _, body := f.get(t, "Bearer "+fresh); status != 200 {
			t.Fatalf("known kid: %d %s", status, body)
		}
		if status, _, body := f.get(t, "Bearer "+odd); status != 401 || body != "invalid_token" {
			t.Fatalf("unknown kid: %d %s", status, body)
		}
	})
}

func TestOIDCOpaqueTokensThroughTheGateway(t *testing.T) {
	f := newOIDCFixture(t)
	tok := f.op.Token(t, "svc-opaque", "system/*.read", oidcResource)
	for i := range 3 {
		if status, _, body := f.get(t, "Bearer "+tok); status != 200 {
			t.Fatalf("request %d: %d %s", i, status, body)
		}
	}
	if n := f.op.Introspections(); n != 1 {
		t.Fatalf("%d introspections for 3 requests, want 1", n)
	}
	if got := f.up.Last().Header.Get("X-Healthgate-Application"); got != "opaque-app" {
		t.Fatalf("upstream application %q", got)
	}
	t.Run("a revoked token is refused once the positive cache lets go, then negatively cached", func(t *testing.T) {
		f.op.Revoke(t, "svc-opaque", tok)
		time.Sleep(1200 * time.Millisecond) // cache_ttl 1s
		for range 2 {
			if status, _, body := f.get(t, "Bearer "+tok); status != 401 || body != "invalid_token" {
				t.Fatalf("%d %s", status, body)
			}
		}
		if n := f.op.Introspections(); n != 2 {
			t.Fatalf("%d introspections, want 2 (the refusal is cached)", n)
		}
	})
	t.Run("an unreachable introspection endpoint answers 503", func(t *testing.T) {
		other := f.op.Token(t, "svc-opaque", "system/*.read", oidcResource)
		f.op.Stop()
		defer f.op.Restart(t)
		if status, _, body := f.get(t, "Bearer "+other); status != 503 || body != "dependency_unavailable" {
			t.Fatalf("%d %s", status, body)
		}
	})
}

// TestOIDCWithClientCertificates is FHIRServer's "software by certificate,
// user by JWT" and RFC 8705 certificate-bound tokens.
func TestOIDCWithClientCertificates(t *testing.T) {
	pki := harness.NewPKI(t)
	app := pki.Issue(t, devpki.Options{CommonName: "ward app", URIs: []string{"spiffe://hospital/app/" + oidcApp}})
	other := pki.Issue(t, devpki.Options{CommonName: "billing app", URIs: []string{"spiffe://hospital/app/billing"}})
	sum := sha256.Sum256(app.Cert.Raw)
	op := harness.StartOP(t, harness.OPConfig{Clients: oidcClients(harness.OPClient{
		ID: "svc-bound", Secret: "secret-bound", Scope: "system/*.read",
		ExtraTokenClaims: map[string]any{"appid": oidcApp, "cnf": map[string]string{"x5t#S256": base64.RawURLEncoding.EncodeToString(sum[:])}},
		JWTClaims:        map[string]any{"sub": "nurse-7"},
	})})
	up := harness.NewUpstream(t)
	srv := certServer(t, pki)
	gw := harness.Start(t, harness.Config{
		Env: []string{"HG_OIDC_INTROSPECTION_SECRET=" + op.Secret("gateway")},
		Caddyfile: mtlsSite("localhost", srv, up, fmt.Sprintf(`healthgate {
		client_cert {
			trust_pool file %q
			map san_uri spiffe://hospital/app/* application {1}
		}
		%s
	}`, pki.CAFile, oidcBlock(op, ""))),
	})
	url := "https://localhost:" + strconv.Itoa(gw.HTTPSPort) + "/fhir/Patient/1"
	bearer := func(client string) http.Header {
		return http.Header{"Authorization": {"Bearer " + op.Token(t, client, "system/*.read", oidcResource)}}
	}
	for _, tc := range []struct {
		name   string
		cert   *harness.Cert
		client string
		status int
		reason string
		user   string
		app    string
	}{
		{"the certificate's application and the token's user combine", app, "svc-rs", 200, "", oidcUser, oidcApp},
		{"a token for another application than the certificate's is refused", other, "svc-rs", 401, "invalid_token", "", ""},
		{"a certificate-bound token over its certificate is accepted", app, "svc-bound", 200, "", "nurse-7", oidcApp},
		{"a certificate-bound token over another certificate is refused", other, "svc-bound", 401, "invalid_token", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := up.Count()
			status, body := call(t, hostClient(pki, gw.HTTPSPort, "localhost", tc.cert.TLS), url, bearer(tc.client))
			if status != tc.status || (tc.reason != "" && body != tc.reason) {
				t.Fatalf("%d %q, want %d %q", status, body, tc.status, tc.reason)
			}
			if tc.status != 200 {
				if up.Count() != before {
					t.Fatal("a refused request reached the upstream")
				}
				return
			}
			h := up.Last().Header
			if h.Get("X-Healthgate-User") != tc.user || h.Get("X-Healthgate-Application") != tc.app {
				t.Fatalf("upstream user %q application %q", h.Get("X-Healthgate-User"), h.Get("X-Healthgate-Application"))
			}
		})
	}
	t.Run("a certificate-bound token without a certificate is refused", func(t *testing.T) {
		status, body := call(t, hostClient(pki, gw.HTTPSPort, "localhost", []tls.Certificate{}...), url, bearer("svc-bound"))
		if status != 401 || body != "invalid_token" {
			t.Fatalf("%d %q", status, body)
		}
	})
}

// TestOIDCSanteDBHS256ThroughTheGateway sends a SanteDB-shaped id_token,
// HS256-signed with the application's secret (kid = application id), the
// secret given to the gateway as {env.*}.
func TestOIDCSanteDBHS256ThroughTheGateway(t *testing.T) {
	const issuer = "https://elbonia.santesuite.net:8443/auth"
	secret := "fiddler-application-secret-0123456789"
	pki, up := harness.NewPKI(t), harness.NewUpstream(t)
	gw := harness.Start(t, harness.Config{
		Env: []string{"HG_SANTEDB_APP_SECRET=" + secret},
		Caddyfile: siteWith(pki, up, fmt.Sprintf(`healthgate {
		oidc %s {
			audience *
			hs256_secret %s {env.HG_SANTEDB_APP_SECRET}
			allow_string_iat
			require_scope 1.3.6.1.4.1.33349.3.1.5.9.2.0
		}
	}
	handle_errors {
		respond "{healthgate.reason}" {err.status_code}
	}`, issuer, oidcApp)),
	})
	now := time.Now()
	claims := map[string]any{
		"unique_name": "demoadmin", "role": "ADMINISTRATORS", "authmethod": "Password",
		"nameid": oidcUser, "appid": oidcApp, "email": "administrator@santesuite.net",
		"scope": []string{"1.3.6.1.4.1.33349.3.1.5.9.2.0", "1.3.6.1.4.1.33349.3.1.5.9.2.2"},
		"jti":   "D4BE3C469CE8EA11", "iat": strconv.FormatInt(now.Unix(), 10) + ".8982",
		"exp": now.Add(30 * time.Minute).Unix(), "nbf": now.Unix(), "sub": oidcUser, "iss": issuer,
	}
	sign := func(key string) string {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte(key)},
			(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", oidcApp))
		if err != nil {
			t.Fatal(err)
		}
		payload, _ := json.Marshal(claims)
		jws, err := s.Sign(payload)
		if err != nil {
			t.Fatal(err)
		}
		tok, _ := jws.CompactSerialize()
		return tok
	}
	c := pki.Client(nil)
	status, body := call(t, c, gw.URL("/fhir/Patient/1"), http.Header{"Authorization": {"Bearer " + sign(secret)}})
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	h := up.Last().Header
	if h.Get("X-Healthgate-User") != oidcUser || h.Get("X-Healthgate-User-Name") != "demoadmin" ||
		h.Get("X-Healthgate-Application") != oidcApp || !strings.Contains(h.Get("X-Healthgate-Scopes"), "1.3.6.1.4.1.33349.3.1.5.9.2.2") {
		t.Fatalf("upstream identity %v", h)
	}
	t.Run("a token signed with another secret is refused", func(t *testing.T) {
		status, body := call(t, c, gw.URL("/fhir/Patient/1"), http.Header{"Authorization": {"Bearer " + sign("another-secret-of-at-least-32-bytes!")}})
		if status != 401 || body != "invalid_token" {
			t.Fatalf("%d %s", status, body)
		}
	})
	t.Run("the secret never shows in the log", func(t *testing.T) {
		if strings.Contains(gw.Logs(), secret) {
			t.Fatal("the HS256 secret is in the gateway log")
		}
	})
}
