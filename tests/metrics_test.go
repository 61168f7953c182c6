package tests

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/healthgate/healthgate/policy/clientcert/clientcerttest"
	"github.com/healthgate/healthgate/tests/harness"
)

// expectMetrics scrapes the gateway's admin /metrics and compares each
// series with its exact value; a series missing from the exposition is 0.
func expectMetrics(t *testing.T, gw *harness.Gateway, want map[string]float64) {
	t.Helper()
	m := gw.Admin(t, "/metrics")
	for series, v := range want {
		if got := metric(t, m, series); got != v {
			t.Errorf("%s = %v, want %v", series, got, v)
		}
	}
}

// fetchSeries are the fetch counters of the oidc verifier, by kind:
// {fetches, failures}.
func fetchSeries(counts map[string][2]float64) map[string]float64 {
	out := map[string]float64{}
	for _, kind := range []string{"discovery", "jwks", "introspection"} {
		c := counts[kind]
		out[fmt.Sprintf(`healthgate_fetches_total{kind=%q}`, kind)] = c[0]
		out[fmt.Sprintf(`healthgate_fetch_failures_total{kind=%q}`, kind)] = c[1]
	}
	return out
}

// TestMetricsCountOIDCFetches drives real discovery, JWKS and introspection
// fetches from the test OpenID Provider through the gateway and reads them
// back from Caddy's metrics endpoint. The fixture limits JWKS refetches to 2
// per hour, which makes every count exact.
func TestMetricsCountOIDCFetches(t *testing.T) {
	f := newOIDCFixture(t)
	ok := func(t *testing.T, tok string) {
		t.Helper()
		if status, _, body := f.get(t, "Bearer "+tok); status != 200 {
			t.Fatalf("%d %s", status, body)
		}
	}

	t.Run("an opaque token is introspected once for two requests", func(t *testing.T) {
		tok := f.op.Token(t, "svc-opaque", "system/*.read", oidcResource)
		ok(t, tok)
		ok(t, tok)
		expectMetrics(t, f.gw, fetchSeries(map[string][2]float64{"introspection": {1, 0}}))
	})
	t.Run("the first JWTs cost one discovery and one JWKS fetch", func(t *testing.T) {
		ok(t, f.op.Token(t, "svc-rs", "system/*.read", oidcResource))
		ok(t, f.op.Token(t, "svc-es", "system/*.read", oidcResource))
		if n := f.op.JWKSFetches(); n != 1 {
			t.Fatalf("the provider served %d JWKS, want 1", n)
		}
		expectMetrics(t, f.gw, fetchSeries(map[string][2]float64{"introspection": {1, 0}, "discovery": {1, 0}, "jwks": {1, 0}}))
	})
	if err := f.gw.Reload(t, f.cfg); err != nil {
		t.Fatal(err)
	}
	t.Run("after a reload the shared key set's refetch counts once on the new config's metrics", func(t *testing.T) {
		f.op.Rotate(t, false)
		ok(t, f.op.Token(t, "svc-rs", "system/*.read", oidcResource))
		if n := f.op.JWKSFetches(); n != 2 {
			t.Fatalf("the provider served %d JWKS, want 2", n)
		}
		// Caddy makes a registry per config: the new one starts at zero,
		// and the pooled key set needed no new discovery.
		expectMetrics(t, f.gw, fetchSeries(map[string][2]float64{"jwks": {1, 0}}))
	})
	t.Run("unknown kids past the refetch limit are not counted as fetches", func(t *testing.T) {
		p := strings.Split(f.op.Token(t, "svc-rs", "system/*.read", oidcResource), ".")
		for i := range 3 {
			h, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "at+jwt", "kid": "metrics-" + strconv.Itoa(i)})
			if status, _, _ := f.get(t, "Bearer "+base64.RawURLEncoding.EncodeToString(h)+"."+p[1]+"."+p[2]); status != 401 {
				t.Fatalf("unknown kid %d: %d", i, status)
			}
		}
		if n := f.op.JWKSFetches(); n != 2 {
			t.Fatalf("the provider served %d JWKS, want 2 (limit spent)", n)
		}
		expectMetrics(t, f.gw, fetchSeries(map[string][2]float64{"jwks": {1, 0}}))
	})
	t.Run("an unreachable introspection endpoint counts a failed fetch", func(t *testing.T) {
		tok := f.op.Token(t, "svc-opaque", "system/*.read", oidcResource)
		f.op.Stop()
		defer f.op.Restart(t)
		if status, _, body := f.get(t, "Bearer "+tok); status != 503 || body != "dependency_unavailable" {
			t.Fatalf("%d %s", status, body)
		}
		expectMetrics(t, f.gw, fetchSeries(map[string][2]float64{"jwks": {1, 0}, "introspection": {1, 1}}))
	})
}

// TestMetricsCountRevocationChecks checks client certificates against a
// real `openssl ocsp` responder and a CRL at the certificates' distribution
// point, then reads the checks and fetches back from the metrics endpoint.
// Each TLS connection is checked once; every call below opens a new one.
func TestMetricsCountRevocationChecks(t *testing.T) {
	f := newRevocationFixture(t)
	ca, good, bad := f.ca, f.good, f.bad
	gw := harness.Start(t, harness.Config{Caddyfile: f.site("ocsp", "ocsp hard") + f.site("crl", "crl hard") +
		f.site("fallback", "ocsp_then_crl hard")})
	check := func(t *testing.T, host string, cert clientcerttest.Issued, status int) {
		t.Helper()
		if got, body := call(t, hostClient(f.pki, gw.HTTPSPort, "", loadPair(t, cert)), f.url(gw, host), nil); got != status {
			t.Fatalf("%s: got %d %q, want %d", host, got, body, status)
		}
	}
	series := func(checks map[string]float64, fetches map[string][2]float64) map[string]float64 {
		out := map[string]float64{}
		for _, m := range []string{"ocsp", "crl"} {
			for _, r := range []string{"good", "revoked", "unknown", "error"} {
				out[fmt.Sprintf(`healthgate_revocation_checks_total{method=%q,result=%q}`, m, r)] = checks[m+"/"+r]
			}
			out[fmt.Sprintf(`healthgate_fetches_total{kind=%q}`, m)] = fetches[m][0]
			out[fmt.Sprintf(`healthgate_fetch_failures_total{kind=%q}`, m)] = fetches[m][1]
		}
		return out
	}

	t.Run("OCSP answers good and revoked, one request each", func(t *testing.T) {
		check(t, "ocsp", good, 200)
		check(t, "ocsp", bad, 401)
		expectMetrics(t, gw, series(map[string]float64{"ocsp/good": 1, "ocsp/revoked": 1},
			map[string][2]float64{"ocsp": {2, 0}}))
	})
	t.Run("a second connection with the good certificate is a check served from the cache", func(t *testing.T) {
		check(t, "ocsp", good, 200)
		expectMetrics(t, gw, series(map[string]float64{"ocsp/good": 2, "ocsp/revoked": 1},
			map[string][2]float64{"ocsp": {2, 0}}))
	})
	t.Run("one CRL download answers a revoked and a good certificate", func(t *testing.T) {
		check(t, "crl", bad, 401)
		check(t, "crl", good, 200)
		expectMetrics(t, gw, series(map[string]float64{"ocsp/good": 2, "ocsp/revoked": 1, "crl/revoked": 1, "crl/good": 1},
			map[string][2]float64{"ocsp": {2, 0}, "crl": {1, 0}}))
	})
	ca.StopResponder()
	t.Run("with the responder down the failed OCSP check and the CRL fallback both count", func(t *testing.T) {
		check(t, "fallback", good, 200)
		expectMetrics(t, gw, series(
			map[string]float64{"ocsp/good": 2, "ocsp/revoked": 1, "ocsp/error": 1, "crl/revoked": 1, "crl/good": 2},
			map[string][2]float64{"ocsp": {3, 1}, "crl": {2, 0}}))
	})
}
