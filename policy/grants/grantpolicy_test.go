package grants

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/healthgate/healthgate/policy/identity"
	"github.com/healthgate/healthgate/policy/pipeline"
)

func testGrantPolicy(t *testing.T) *GrantPolicy {
	t.Helper()
	rs, err := NewRules([]Rule{
		{Effect: EffectDeny, Policy: PolicyFor(Password, true), Subjects: []Subject{{SubjectApplication, "reader-app"}, {SubjectRole, "SYNCHRONIZERS"}}},
		{Effect: EffectDeny, Policy: PolicyFor(ClientCredentials, true), Subjects: []Subject{{SubjectDevice, "kiosk-1"}}},
		{Effect: EffectDeny, Policy: PolicyFor(AuthorizationCode, true), Subjects: []Subject{{SubjectApplication, "batch-app"}}},
		{Effect: EffectDeny, Policy: PolicyFor(Challenge, true), Subjects: []Subject{{SubjectApplication, "kiosk-app"}}},
		{Effect: EffectDeny, Policy: OIDOAuthLogin, Subjects: []Subject{{SubjectRole, "LOCKED"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	g := &GrantPolicy{Rules: rs}
	g.Provision()
	return g
}

func tokenRequest(form string, device string, hdr ...string) *pipeline.Request {
	hdr = append(hdr, "Content-Type", "application/x-www-form-urlencoded")
	req := newRequest(http.MethodPost, DefaultTokenPath, form, hdr...)
	if device != "" {
		req.Principal.Device = &identity.Facet{Kind: identity.Device, ID: device, Proof: identity.ProofMTLS}
	}
	return req
}

func TestGrantPolicyAtTheTokenEndpoint(t *testing.T) {
	tests := []struct {
		name   string
		form   string
		device string
		hdr    []string
		want   string
	}{
		{"a password grant from an application denied password is refused", "grant_type=password&username=u&password=p&client_id=reader-app", "", nil, "deny:grant_denied"},
		{"a password grant from another application passes", "grant_type=password&username=u&password=p&client_id=good-app", "", nil, "allow"},
		{"client_credentials from a device denied it is refused", "grant_type=client_credentials&client_id=good-app&client_secret=s", "kiosk-1", nil, "deny:grant_denied"},
		{"client_credentials from an allowed device passes", "grant_type=client_credentials&client_id=good-app&client_secret=s", "tablet-2", nil, "allow"},
		{"client_credentials without a device is refused", "grant_type=client_credentials&client_id=good-app&client_secret=s", "", nil, "deny:device_required"},
		{"authorization_code from an application denied it is refused", "grant_type=authorization_code&code=c&client_id=batch-app", "", nil, "deny:grant_denied"},
		{"x_challenge from an application denied it is refused", "grant_type=x_challenge&client_id=kiosk-app", "", nil, "deny:grant_denied"},
		{"the client of a Basic header is the application", "grant_type=password&username=u&password=p", "", []string{"Authorization", "Basic cmVhZGVyLWFwcDpzZWNyZXQ="}, "deny:grant_denied"},
		{"a repeated grant_type is malformed", "grant_type=client_credentials&grant_type=password&client_id=reader-app", "", nil, "deny:token_request_malformed"},
		{"a missing grant_type is malformed", "client_id=reader-app", "", nil, "deny:token_request_malformed"},
		{"Allison's password grant with the short client claim passes", "grant_type=password&scope=2.25.3049340304933&username=allison&password=Mohawk123&client_id=fiddler", "Debugee-E0D55EA5D6CD",
			[]string{"X-SanteDBClient-Claim", "PolicyOverride=1;PurposeOfUse=EMERG"}, "allow"},
		{"a malformed client claim on a token request is refused", "grant_type=password&username=u&password=p&client_id=good-app", "",
			[]string{"X-SanteDBClient-Claim", "PolicyOverride=maybe"}, "deny:client_claim_malformed"},
		{"a broken form is malformed", "grant_type=%zz", "", nil, "deny:token_request_malformed"},
		{"an application denied a grant is denied it in any spelling", "grant_type=password&username=u&password=p&client_id=READER-App", "", nil, "deny:grant_denied"},
		{"a device denied a grant is denied it in any spelling", "grant_type=client_credentials&client_id=good-app&client_secret=s", "KIOSK-1", nil, "deny:grant_denied"},
		{"a repeated client_id is malformed", "grant_type=password&username=u&password=p&client_id=reader-app&client_id=reader-app", "", nil, "deny:token_request_malformed"},
	}
	g := testGrantPolicy(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tokenRequest(tt.form, tt.device, tt.hdr...)
			d := g.Decide(context.Background(), req)
			wantDecision(t, d, tt.want)
			if got := readUpstream(t, req); got != tt.form && d.Effect == pipeline.Allow {
				t.Errorf("upstream reads %q, want the exact bytes %q", got, tt.form)
			}
		})
	}
}

func TestGrantPolicyMatchesTokenPathsAsTheProviderRoutesThem(t *testing.T) {
	g := testGrantPolicy(t)
	const form = "grant_type=password&username=u&password=p&client_id=reader-app"
	for _, p := range []string{DefaultTokenPath, "/auth/oauth2_token/", "/AUTH/OAuth2_Token", "//auth//oauth2_token", "/auth/./oauth2_token", "/x/../auth/oauth2_token"} {
		t.Run(p, func(t *testing.T) {
			req := newRequest(http.MethodPost, "http://gw.example"+p, form, "Content-Type", "application/x-www-form-urlencoded")
			req.HTTP.URL.Path = p // as the client sent it
			wantDecision(t, g.Decide(context.Background(), req), "deny:grant_denied")
		})
	}
}

func TestGrantPolicyAnswersRFC6749Errors(t *testing.T) {
	g := testGrantPolicy(t)
	d := g.Decide(context.Background(), tokenRequest("grant_type=password&client_id=reader-app&password=Mohawk123", ""))
	f := d.Failure
	if f == nil || f.Status != http.StatusBadRequest || f.ContentType != "application/json" {
		t.Fatalf("failure = %+v, want a 400 JSON body", f)
	}
	var body map[string]string
	if err := json.Unmarshal(f.Body, &body); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"error": "unauthorized_client", "error_description": "the grant type is not allowed for this client"}, body); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	if strings.Contains(string(f.Body), "Mohawk123") || strings.Contains(f.Err.Error(), "Mohawk123") {
		t.Error("the password leaked into the failure")
	}
	if f.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", f.Header.Get("Cache-Control"))
	}
	if diff := cmp.Diff([]string{"grant:password", "denied:" + PolicyFor(Password, true), "application:reader-app"}, d.Grounds); diff != "" {
		t.Errorf("grounds (-want +got):\n%s", diff)
	}
}

func TestGrantPolicyBoundsTheTokenRequest(t *testing.T) {
	g := testGrantPolicy(t)
	g.MaxBody = 32
	d := g.Decide(context.Background(), tokenRequest("grant_type=password&username="+strings.Repeat("a", 64), ""))
	wantDecision(t, d, "deny:body_too_large")
	if d.Failure.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("status = %d, want 413", d.Failure.Status)
	}
	d = g.Decide(context.Background(), newRequest(http.MethodPost, DefaultTokenPath, `{"grant_type":"password"}`, "Content-Type", "application/json"))
	wantDecision(t, d, "deny:token_request_malformed")
}

func TestGrantPolicyAllowsClientCredentialsWithoutDeviceWhenConfigured(t *testing.T) {
	g := testGrantPolicy(t)
	g.AllowClientCredentialsWithoutDevice = true
	wantDecision(t, g.Decide(context.Background(), tokenRequest("grant_type=client_credentials&client_id=x", "")), "allow")
}

func TestGrantPolicyOnResourceRoutes(t *testing.T) {
	tests := []struct {
		name   string
		claims []string
		want   string
	}{
		{"a password token of a role denied password is refused", []string{"authmethod", "Password", "role", "synchronizers"}, "deny:grant_denied"},
		{"a password token of another role passes", []string{"authmethod", "Password", "role", "CLINICAL"}, "abstain"},
		{"a token of an application denied password is refused", []string{"authmethod", "password", "appid", "reader-app"}, "deny:grant_denied"},
		{"a client_credentials token from a device denied it is refused", []string{"authmethod", "client_credentials", "devid", "kiosk-1"}, "deny:grant_denied"},
		{"a token with an unknown authmethod is checked against the login policy", []string{"authmethod", "saml-bearer", "role", "LOCKED"}, "deny:grant_denied"},
		{"a token with an unknown authmethod and no login denial passes", []string{"authmethod", "saml-bearer", "role", "CLINICAL"}, "abstain"},
	}
	g := testGrantPolicy(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := withToken(newRequest(http.MethodGet, "/fhir/Patient/1", ""), nil, tt.claims...)
			d := g.Decide(context.Background(), req)
			wantDecision(t, d, tt.want)
			if d.Effect == pipeline.Deny && d.Failure.Status != http.StatusForbidden {
				t.Errorf("status = %d, want 403", d.Failure.Status)
			}
		})
	}
	t.Run("a request without a token is left to others", func(t *testing.T) {
		wantDecision(t, g.Decide(context.Background(), newRequest(http.MethodGet, "/fhir/Patient/1", "")), "abstain")
	})
}
