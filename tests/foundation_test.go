package tests

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/healthgate/healthgate/tests/harness"
)

// siteWith returns a site block for the test PKI's server certificate with
// the given healthgate block in front of up.
func siteWith(pki *harness.PKI, up *harness.Upstream, healthgate string) string {
	return fmt.Sprintf(`https://localhost:{$HTTPS_PORT} {
	tls %q %q
	%s
	reverse_proxy %s
}`, pki.ServerCert, pki.ServerKey, healthgate, up.Addr)
}

// do sends a request and returns the response, its body read and closed.
func do(t *testing.T, c *http.Client, method, url string, hdr http.Header, body string) *http.Response {
	t.Helper()
	resp := send(t, c, method, url, hdr, body)
	io.Copy(io.Discard, resp.Body) //nolint:errcheck
	resp.Body.Close()
	return resp
}

func TestMissingCredentialModes(t *testing.T) {
	pki := harness.NewPKI(t)
	up := harness.NewUpstream(t)
	gw := harness.Start(t, harness.Config{Caddyfile: siteWith(pki, up, `healthgate {
		public /metadata /.well-known/*
		missing reject
		route /open/* {
			missing ignore
		}
		route /fhir/* {
			missing limit
		}
	}`)})
	c := pki.Client(nil)

	cases := []struct {
		name, method, path string
		want               int
		reachesUpstream    bool
		anonymous          bool
	}{
		{"a public path passes without credentials", "GET", "/metadata", 200, true, true},
		{"a nested well-known path is public", "GET", "/.well-known/smart-configuration", 200, true, true},
		{"a path outside the public list is rejected", "GET", "/Patient/1", 401, false, false},
		{"a dot-dot path does not escape into the public list", "GET", "/metadata/../Patient/1", 401, false, false},
		{"an upper-case spelling of a protected path is still protected", "GET", "/PATIENT/1", 401, false, false},
		{"missing ignore passes a write as anonymous", "POST", "/open/thing", 200, true, true},
		{"missing limit passes a GET as anonymous", "GET", "/fhir/Patient", 200, true, true},
		{"missing limit passes a HEAD as anonymous", "HEAD", "/fhir/Patient", 200, true, true},
		{"missing limit refuses a POST", "POST", "/fhir/Patient", 401, false, false},
		{"missing limit refuses a DELETE", "DELETE", "/fhir/Patient/1", 401, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := up.Count()
			resp := do(t, c, tc.method, gw.URL(tc.path), nil, "")
			if resp.StatusCode != tc.want {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.want)
			}
			if got := up.Count() > before; got != tc.reachesUpstream {
				t.Fatalf("reached upstream = %v, want %v", got, tc.reachesUpstream)
			}
			if tc.want == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), `Bearer realm="healthgate"`) {
				t.Errorf("WWW-Authenticate = %q", resp.Header.Get("WWW-Authenticate"))
			}
			if tc.reachesUpstream {
				if got := up.Last().Header.Get("X-Healthgate-Anonymous"); (got == "true") != tc.anonymous {
					t.Errorf("X-Healthgate-Anonymous = %q, want anonymous=%v", got, tc.anonymous)
				}
			}
		})
	}
}

func TestSpoofedIdentityHeadersNeverReachTheUpstream(t *testing.T) {
	pki := harness.NewPKI(t)
	up := harness.NewUpstream(t)
	gw := harness.Start(t, harness.Config{Caddyfile: siteWith(pki, up, `healthgate {
		missing ignore
		upstream_headers {
			user X-Remote-User
		}
		strip_headers X-Site-Secret
	}`)})
	spoof := http.Header{
		"X-Remote-User":            {"admin"},
		"X-Healthgate-Device":      {"fake-device"},
		"X-Healthgate-Application": {"fake-app"},
		"X-Healthgate-Anonymous":   {"false"},
		"X-Healthgate-Override":    {"true"},
		"X-Ssl-Clientcert":         {"-----BEGIN CERTIFICATE-----"},
		"X_ssl_clientcert":         {"underscore variant"},
		"Client-Cert":              {":AAAA:"},
		"X-Forwarded-Client-Cert":  {"Hash=abc;Cert=xyz"},
		"X-Amzn-Mtls-Clientcert":   {"abc"},
		"X-Site-Secret":            {"1"},
		"X-Unrelated":              {"kept"},
	}
	resp := do(t, pki.Client(nil), "GET", gw.URL("/Patient/1"), spoof, "")
	if resp.StatusCode != 200 {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	got := up.Last().Header
	var leaked []string
	for k := range spoof {
		if got.Get(k) != "" && k != "X-Unrelated" && !(k == "X-Healthgate-Anonymous" && got.Get(k) == "true") {
			leaked = append(leaked, k+"="+got.Get(k))
		}
	}
	if len(leaked) > 0 {
		t.Errorf("client-supplied headers reached the upstream: %v", leaked)
	}
	if diff := cmp.Diff("kept", got.Get("X-Unrelated")); diff != "" {
		t.Errorf("unrelated header (-want +got):\n%s", diff)
	}
	if got.Get("X-Healthgate-Anonymous") != "true" {
		t.Errorf("anonymous pass not marked: %q", got.Get("X-Healthgate-Anonymous"))
	}
}

func TestPlaceholdersReachOtherDirectives(t *testing.T) {
	pki := harness.NewPKI(t)
	up := harness.NewUpstream(t)
	gw := harness.Start(t, harness.Config{Caddyfile: fmt.Sprintf(`https://localhost:{$HTTPS_PORT} {
	tls %q %q
	healthgate {
		missing ignore
	}
	request_header X-Decision "{healthgate.decision} {healthgate.route} anonymous={healthgate.anonymous}"
	reverse_proxy %s
}`, pki.ServerCert, pki.ServerKey, up.Addr)})
	do(t, pki.Client(nil), "GET", gw.URL("/x"), nil, "")
	if diff := cmp.Diff("allow default anonymous=true", up.Last().Header.Get("X-Decision")); diff != "" {
		t.Errorf("placeholders (-want +got):\n%s", diff)
	}
}

func TestConfigurationErrorsNameTheDirectiveAndValue(t *testing.T) {
	bin := harness.Binary(t)
	cases := []struct {
		name, block, want string
	}{
		{"an unknown missing mode", `healthgate {
			missing maybe
		}`, `missing: unknown mode "maybe"`},
		{"an unknown sub-directive", `healthgate {
			frobnicate on
		}`, `unknown sub-directive "frobnicate"`},
		{"a requirement no verifier can meet", `healthgate {
			require client_cert
		}`, `require "client_cert"`},
		{"an unknown route option", `healthgate {
			route /x {
				bogus
			}
		}`, `unknown sub-directive "bogus"`},
	}
	for _, tc := range cases {
		t.Run(tc.name+" is refused with a message naming it", func(t *testing.T) {
			out := adaptAndValidate(t, bin, fmt.Sprintf("localhost {\n%s\n}\n", tc.block))
			if !strings.Contains(out, tc.want) {
				t.Fatalf("output does not contain %q:\n%s", tc.want, out)
			}
		})
	}
}
