package tests

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/bcrypt"

	"github.com/healthgate/healthgate/tests/harness"
)

// superSecretPolicy is the Elbonia MPI's "SUPER SECRET DISCLOSURE" policy
// from the SanteDB seed, the one Allison overrides.
const superSecretPolicy = "2.25.3049340304933"

// santeOverrideScope is SanteDB's Override Disclosure policy (…9.2.999).
const santeOverrideScope = "1.3.6.1.4.1.33349.3.1.5.9.2.999"

// grantsClients are OP clients whose tokens look like SanteDB's: role,
// authmethod, appid, override and purpose of use as custom claims.
func grantsClients() []harness.OPClient {
	password := func(role string) map[string]any {
		return map[string]any{"role": role, "authmethod": "Password", "appid": "santedb-www", "unique_name": "allison"}
	}
	return oidcClients(
		harness.OPClient{ID: "svc-ok", Secret: "secret-ok", Scope: "system/*.read"},
		harness.OPClient{ID: "blocked-app", Secret: "secret-blocked", Scope: "system/*.read"},
		harness.OPClient{ID: "sync-user", Secret: "secret-sync", Scope: "system/*.read", ExtraTokenClaims: password("SYNCHRONIZERS")},
		harness.OPClient{ID: "clinical-user", Secret: "secret-clin", Scope: "system/*.read", ExtraTokenClaims: password("CLINICAL")},
		harness.OPClient{ID: "allison", Secret: "secret-allison", Scope: "system/*.read " + superSecretPolicy + " " + santeOverrideScope},
		harness.OPClient{ID: "allison-override", Secret: "secret-allison-o", Scope: "system/*.read " + santeOverrideScope,
			ExtraTokenClaims: map[string]any{"isOverride": true, "purpose_of_use": "EMERG", "unique_name": "allison"}},
		harness.OPClient{ID: "allison-treat", Secret: "secret-allison-t", Scope: "system/*.read " + santeOverrideScope,
			ExtraTokenClaims: map[string]any{"isOverride": true, "purpose_of_use": "TREAT", "unique_name": "allison"}},
		harness.OPClient{ID: "allison-plain", Secret: "secret-allison-p", Scope: "system/*.read",
			ExtraTokenClaims: map[string]any{"isOverride": false, "unique_name": "allison"}},
	)
}

type grantsFixture struct {
	op  *harness.OP
	pki *harness.PKI
	up  *harness.Upstream
	gw  *harness.Gateway
	c   *http.Client
}

// newGrantsFixture starts the OP, a recording upstream and a gateway that
// fronts the OP's token endpoint as SanteDB's /auth/oauth2_token and the
// recording upstream as /echo/oauth2_token (to see the exact bytes an IdP
// receives), with devices, grant rules and break-the-glass.
func newGrantsFixture(t *testing.T) *grantsFixture {
	t.Helper()
	f := &grantsFixture{op: harness.StartOP(t, harness.OPConfig{Clients: grantsClients()}), pki: harness.NewPKI(t), up: harness.NewUpstream(t)}
	hash := func(secret string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(secret), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	opAddr := strings.TrimPrefix(f.op.Issuer, "http://")
	f.gw = harness.Start(t, harness.Config{
		Env: []string{
			"HG_OIDC_INTROSPECTION_SECRET=" + f.op.Secret("gateway"),
			"HG_TABLET_HASH=" + hash("0*Su_2~OdJ7@Gcc7"),
			"HG_KIOSK_HASH=" + hash("kiosk-secret"),
		},
		Caddyfile: fmt.Sprintf(`https://localhost:{$HTTPS_PORT} {
	tls %q %q
	healthgate {
		device_basic {
			device Debugee-E0D55EA5D6CD {env.HG_TABLET_HASH}
			device kiosk-1 {env.HG_KIOSK_HASH}
			token_path /auth/oauth2_token /echo/oauth2_token
		}
		grants {
			deny password application reader-app
			deny client_credentials device kiosk-1
			deny client_credentials application blocked-app
			deny authorization_code application batch-app
			deny x_challenge application kiosk-app
			deny password role SYNCHRONIZERS
			token_path /auth/oauth2_token /echo/oauth2_token
		}
		%s
		route /auth/* /echo/* {
			missing ignore
		}
		route /santedb/* {
			require_policy %s {
				override {
					purposes EMERG
					policies %s
				}
			}
		}
	}
	handle /auth/oauth2_token {
		rewrite * /token
		reverse_proxy %s {
			header_up Host {upstream_hostport}
		}
	}
	handle {
		reverse_proxy %s
	}
	handle_errors {
		respond "{healthgate.reason}" {err.status_code}
	}
}`, f.pki.ServerCert, f.pki.ServerKey, oidcBlock(f.op, ""), superSecretPolicy, superSecretPolicy, opAddr, f.up.Addr),
	})
	f.c = f.pki.Client(nil)
	return f
}

type reply struct {
	status int
	header http.Header
	body   string
}

func (f *grantsFixture) send(t *testing.T, method, path string, hdr http.Header, body string) reply {
	t.Helper()
	resp := send(t, f.c, method, f.gw.URL(path), hdr, body)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, strings.TrimSpace(string(b))}
}

func basicAuth(user, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+secret))
}

// seedDevice is the X-Device-Authorization of the SanteDB seed.
const seedDevice = "BASIC RGVidWdlZS1FMEQ1NUVBNUQ2Q0Q6MCpTdV8yfk9kSjdAR2NjNw=="

func TestGrantTypesAtTheTokenEndpoint(t *testing.T) {
	f := newGrantsFixture(t)
	form := "application/x-www-form-urlencoded"
	type want struct {
		Status   int
		Error    string // RFC 6749 error code, or "" when the IdP answered
		ReachIdP bool
	}
	tests := []struct {
		name string
		hdr  http.Header
		form string
		want want
	}{
		{"client_credentials from a known device reaches the IdP and gets a token",
			http.Header{"X-Device-Authorization": {seedDevice}, "Authorization": {basicAuth("svc-ok", "secret-ok")}},
			"grant_type=client_credentials&scope=system%2F*.read&resource=https%3A%2F%2Ffhir.example%2F", want{200, "", true}},
		{"client_credentials from a device denied it is refused before the IdP",
			http.Header{"X-Device-Authorization": {"BASIC " + base64.StdEncoding.EncodeToString([]byte("kiosk-1:kiosk-secret"))}, "Authorization": {basicAuth("svc-ok", "secret-ok")}},
			"grant_type=client_credentials&scope=system%2F*.read", want{400, "unauthorized_client", false}},
		{"client_credentials from an application denied it is refused before the IdP",
			http.Header{"X-Device-Authorization": {seedDevice}, "Authorization": {basicAuth("blocked-app", "secret-blocked")}},
			"grant_type=client_credentials&scope=system%2F*.read", want{400, "unauthorized_client", false}},
		{"client_credentials without a device is refused before the IdP",
			http.Header{"Authorization": {basicAuth("svc-ok", "secret-ok")}},
			"grant_type=client_credentials&scope=system%2F*.read", want{400, "unauthorized_client", false}},
		{"a password grant of an application denied password is refused before the IdP",
			http.Header{"X-Device-Authorization": {seedDevice}},
			"grant_type=password&username=allison&password=Mohawk123&client_id=reader-app&client_secret=fiddler", want{400, "unauthorized_client", false}},
		{"a password grant of an application denied password is refused without a device too", nil,
			"grant_type=password&username=allison&password=Mohawk123&client_id=reader-app&client_secret=fiddler", want{400, "unauthorized_client", false}},
		{"an authorization_code grant of an application denied it is refused before the IdP", nil,
			"grant_type=authorization_code&code=abc&redirect_uri=https%3A%2F%2Fapp%2F&client_id=batch-app", want{400, "unauthorized_client", false}},
		{"an x_challenge grant of an application denied it is refused before the IdP", nil,
			"grant_type=x_challenge&username=allison&client_id=kiosk-app", want{400, "unauthorized_client", false}},
		{"a password grant of another application reaches the IdP (which authenticates the client itself)", nil,
			"grant_type=password&username=allison&password=Mohawk123&client_id=fiddler&client_secret=fiddler", want{401, "", true}},
		{"a token request with two grant types is malformed", nil,
			"grant_type=password&grant_type=client_credentials&client_id=fiddler", want{400, "invalid_request", false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := tt.hdr.Clone()
			if hdr == nil {
				hdr = http.Header{}
			}
			hdr.Set("Content-Type", form)
			before := f.op.Count("/token")
			r := f.send(t, http.MethodPost, "/auth/oauth2_token", hdr, tt.form)
			var body map[string]any
			if err := json.Unmarshal([]byte(r.body), &body); err != nil {
				t.Fatalf("body %q is not JSON: %v", r.body, err)
			}
			reached := f.op.Count("/token") > before
			got := want{Status: r.status, ReachIdP: reached}
			if reached {
				if tt.want.Status == 200 && body["access_token"] == nil {
					t.Errorf("IdP answer %v has no access_token", body)
				}
			} else {
				got.Error, _ = body["error"].(string)
				if r.header.Get("Content-Type") != "application/json" || r.header.Get("Cache-Control") != "no-store" {
					t.Errorf("headers %v, want application/json and no-store", r.header)
				}
				if strings.Contains(r.body, "Mohawk123") || strings.Contains(r.body, "secret") {
					t.Errorf("the refusal echoes a secret: %s", r.body)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("token endpoint (-want +got):\n%s\nbody: %s", diff, r.body)
			}
		})
	}
}

// Caddy's path matcher, and so the route and the handle that proxies to the
// IdP, match the token endpoint case-insensitively: every spelling that
// reaches the IdP must have its grant checked.
func TestGrantTypesAtOtherSpellingsOfTheTokenEndpoint(t *testing.T) {
	f := newGrantsFixture(t)
	const body = "grant_type=password&username=allison&password=Mohawk123&client_id=reader-app&client_secret=fiddler"
	for _, p := range []string{"/AUTH/oauth2_token", "/auth/OAuth2_Token"} {
		t.Run(p, func(t *testing.T) {
			before := f.op.Count("/token")
			r := f.send(t, http.MethodPost, p, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, body)
			var e struct{ Error string }
			if err := json.Unmarshal([]byte(r.body), &e); err != nil || r.status != 400 || e.Error != "unauthorized_client" {
				t.Errorf("answer %d %s, want 400 unauthorized_client", r.status, r.body)
			}
			if f.op.Count("/token") != before {
				t.Error("a denied grant reached the IdP")
			}
		})
	}
}

func TestDeviceSecretsAtTheTokenEndpoint(t *testing.T) {
	f := newGrantsFixture(t)
	const body = "grant_type=client_credentials&scope=*&client_id=myMobileApp&client_secret=myAppSecret"
	tests := []struct {
		name       string
		device     string
		wantStatus int
		wantError  string
		wantDevice string
	}{
		{"the right device secret passes with the exact body", seedDevice, 200, "", "Debugee-E0D55EA5D6CD"},
		{"a wrong device secret is refused", "BASIC " + base64.StdEncoding.EncodeToString([]byte("Debugee-E0D55EA5D6CD:guess")), 401, "invalid_client", ""},
		{"an unknown device is refused", "BASIC " + base64.StdEncoding.EncodeToString([]byte("ghost:0*Su_2~OdJ7@Gcc7")), 401, "invalid_client", ""},
		{"a malformed device header is refused", "BASIC not-base64!", 401, "invalid_client", ""},
		{"a missing device is refused for client_credentials", "", 400, "unauthorized_client", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
			if tt.device != "" {
				hdr.Set("X-Device-Authorization", tt.device)
			}
			before := f.up.Count()
			r := f.send(t, http.MethodPost, "/echo/oauth2_token", hdr, body)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (%s)", r.status, tt.wantStatus, r.body)
			}
			if tt.wantError != "" {
				var e struct{ Error string }
				if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Error != tt.wantError {
					t.Errorf("body %s, want error %s", r.body, tt.wantError)
				}
				if f.up.Count() != before {
					t.Error("a refused token request reached the IdP")
				}
				return
			}
			got := f.up.Last()
			if string(got.Body) != body {
				t.Errorf("IdP received %q, want the exact bytes %q", got.Body, body)
			}
			if d := got.Header.Get("X-Healthgate-Device"); d != tt.wantDevice {
				t.Errorf("X-Healthgate-Device = %q, want %q", d, tt.wantDevice)
			}
		})
	}
}

func TestGrantDenialsHoldOnResourceRoutes(t *testing.T) {
	f := newGrantsFixture(t)
	tests := []struct {
		name, client string
		want         int
		wantReason   string
	}{
		{"a password token of a role denied password is refused", "sync-user", 403, "grant_denied"},
		{"a password token of another role passes", "clinical-user", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := f.op.Token(t, tt.client, "system/*.read", oidcResource)
			r := f.send(t, http.MethodGet, "/fhir/Patient/1", http.Header{"Authorization": {"Bearer " + tok}}, "")
			if r.status != tt.want || tt.wantReason != "" && r.body != tt.wantReason {
				t.Errorf("got %d %q, want %d %q", r.status, r.body, tt.want, tt.wantReason)
			}
		})
	}
}

func TestBreakTheGlass(t *testing.T) {
	f := newGrantsFixture(t)
	tests := []struct {
		name, client, scope string
		hdr                 http.Header
		wantStatus          int
		wantReason          string
		wantOverride        string // X-Healthgate-Override at the upstream
		wantPurpose         string
	}{
		{"a token granted SUPER SECRET DISCLOSURE passes without override", "allison", "system/*.read " + superSecretPolicy, nil, 200, "", "", ""},
		{"Allison's override with an override token passes and is marked", "allison-override", "system/*.read " + santeOverrideScope,
			http.Header{"X-SanteDBClient-Claim": {"PolicyOverride=1;PurposeOfUse=EMERG"}}, 200, "", "true", "EMERG"},
		{"the URN form of the claim works the same", "allison-override", "system/*.read " + santeOverrideScope,
			http.Header{"X-SanteDBClient-Claim": {base64.StdEncoding.EncodeToString([]byte("urn:santedb:org:claim:override=true;urn:oasis:names:tc:xacml:2.0:action:purpose=EMERG"))}}, 200, "", "true", "EMERG"},
		{"an override claimed without an override token is refused", "allison-plain", "system/*.read",
			http.Header{"X-SanteDBClient-Claim": {"PolicyOverride=1;PurposeOfUse=EMERG"}}, 400, "client_claim_contradicted", "", ""},
		{"an override claimed with a token that says nothing about it is refused", "svc-ok", "system/*.read",
			http.Header{"X-SanteDBClient-Claim": {"PolicyOverride=1;PurposeOfUse=EMERG"}}, 403, "override_token_required", "", ""},
		{"a spoofed purpose of use the token contradicts is refused", "allison-treat", "system/*.read " + santeOverrideScope,
			http.Header{"X-SanteDBClient-Claim": {"PolicyOverride=1;PurposeOfUse=EMERG"}}, 400, "client_claim_contradicted", "", ""},
		{"a malformed client claim is a bad request", "allison-override", "system/*.read " + santeOverrideScope,
			http.Header{"X-SanteDBClient-Claim": {"PolicyOverride=1=1"}}, 400, "client_claim_malformed", "", ""},
		{"spoofed identity headers do not make an override", "svc-ok", "system/*.read",
			http.Header{"X-Healthgate-Override": {"true"}, "X-Healthgate-Purpose-Of-Use": {"EMERG"}}, 403, "policy_missing", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := tt.hdr.Clone()
			if hdr == nil {
				hdr = http.Header{}
			}
			hdr.Set("Authorization", "Bearer "+f.op.Token(t, tt.client, tt.scope, oidcResource))
			before := f.up.Count()
			r := f.send(t, http.MethodGet, "/santedb/Patient/1", hdr, "")
			if r.status != tt.wantStatus || tt.wantReason != "" && r.body != tt.wantReason {
				t.Fatalf("got %d %q, want %d %q", r.status, r.body, tt.wantStatus, tt.wantReason)
			}
			if tt.wantStatus != 200 {
				if f.up.Count() != before {
					t.Error("a refused request reached the upstream")
				}
				if tt.wantReason == "policy_missing" {
					want := `Bearer error="insufficient_scope", scope="` + superSecretPolicy + `"`
					if got := r.header.Get("WWW-Authenticate"); got != want {
						t.Errorf("WWW-Authenticate = %q, want %q", got, want)
					}
				}
				return
			}
			h := f.up.Last().Header
			if got := h.Get("X-Healthgate-Override"); got != tt.wantOverride {
				t.Errorf("upstream X-Healthgate-Override = %q, want %q", got, tt.wantOverride)
			}
			if got := h.Get("X-Healthgate-Purpose-Of-Use"); got != tt.wantPurpose {
				t.Errorf("upstream X-Healthgate-Purpose-Of-Use = %q, want %q", got, tt.wantPurpose)
			}
		})
	}
}
