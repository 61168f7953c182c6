package audit

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/healthgate/healthgate/policy/identity"
	"github.com/healthgate/healthgate/policy/pipeline"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// request builds a pipeline.Request as the handler would after Run.
func request(method, target string, route *pipeline.Route, p identity.Principal, verified ...string) *pipeline.Request {
	req := pipeline.NewRequest(httptest.NewRequest(method, target, nil), route, t0)
	req.ClientIP = "192.0.2.7"
	req.Principal = p
	req.Verified = verified
	return req
}

func tokenPrincipal() identity.Principal {
	return identity.Principal{
		Application: &identity.Facet{Kind: identity.Application, ID: "app-1", Proof: identity.ProofClaim},
		User:        &identity.Facet{Kind: identity.User, ID: "alice", Name: "Alice", Proof: identity.ProofJWT, Source: "https://idp.example"},
		Token:       &identity.Token{Issuer: "https://idp.example", Subject: "alice", ClientID: "app-1", ID: "jti-42", Expiry: t0.Add(time.Hour)},
		Scopes:      []string{"user/Patient.read"},
	}
}

func TestNewRecord(t *testing.T) {
	fhirRoute := &pipeline.Route{Name: "fhir"}
	tests := []struct {
		name   string
		req    *pipeline.Request
		out    pipeline.Outcome
		status int
		want   Record
	}{
		{
			name: "a token-authorized read records the token facts, the grounds and the upstream status",
			req:  request("GET", "/fhir/Patient/123?_elements=name&access_token=SECRET", fhirRoute, tokenPrincipal(), "oidc"),
			out: pipeline.Outcome{Effect: pipeline.Allow, Decisions: []pipeline.PolicyResult{
				{Policy: "grants", Decision: pipeline.Allowed("user/Patient.read")}}},
			status: 200,
			want: Record{
				Time: t0, RequestID: "rid", Route: "fhir", Method: "GET", Host: "example.com", Path: "/fhir/Patient/123",
				Query: "_elements=name&access_token=REDACTED", Decision: DecisionAllow, Status: 200, UpstreamStatus: 200,
				Application: tokenPrincipal().Application, User: tokenPrincipal().User, Verified: []string{"oidc"},
				Token: tokenPrincipal().Token, Grounds: []string{"user/Patient.read"},
				Policies: []PolicyResult{{Policy: "grants", Effect: "allow", Grounds: []string{"user/Patient.read"}}},
				ClientIP: "192.0.2.7", Duration: 0.25,
			},
		},
		{
			name: "a policy refusal records the refusing policy's grounds and reason",
			req:  request("DELETE", "/fhir/Patient/123", fhirRoute, tokenPrincipal(), "oidc"),
			out: pipeline.Outcome{Effect: pipeline.Deny, Failure: pipeline.Forbidden("insufficient_scope", nil),
				Decisions: []pipeline.PolicyResult{
					{Policy: "rule", Decision: pipeline.Allowed("rule:office-hours=allow")},
					{Policy: "grants", Decision: pipeline.Denied(pipeline.Forbidden("insufficient_scope", nil), "1.3.6.1.4.1.33349.3.1.5.9.2.1.0")}}},
			want: Record{
				Time: t0, RequestID: "rid", Route: "fhir", Method: "DELETE", Host: "example.com", Path: "/fhir/Patient/123",
				Decision: DecisionDeny, Status: 403, Reason: "insufficient_scope",
				Application: tokenPrincipal().Application, User: tokenPrincipal().User, Verified: []string{"oidc"},
				Token: tokenPrincipal().Token, Grounds: []string{"1.3.6.1.4.1.33349.3.1.5.9.2.1.0"},
				Policies: []PolicyResult{
					{Policy: "rule", Effect: "allow", Grounds: []string{"rule:office-hours=allow"}},
					{Policy: "grants", Effect: "deny", Grounds: []string{"1.3.6.1.4.1.33349.3.1.5.9.2.1.0"}, Reason: "insufficient_scope"}},
				ClientIP: "192.0.2.7", Duration: 0.25,
			},
		},
		{
			name: "an unavailable dependency is an error, not a deny",
			req:  request("GET", "/fhir/Patient", fhirRoute, identity.Principal{}),
			out:  pipeline.Outcome{Effect: pipeline.Deny, Failure: pipeline.AsFailure(pipeline.ErrUnavailable)},
			want: Record{Time: t0, RequestID: "rid", Route: "fhir", Method: "GET", Host: "example.com", Path: "/fhir/Patient",
				Decision: DecisionError, Status: 503, Reason: "dependency_unavailable", ClientIP: "192.0.2.7", Duration: 0.25},
		},
		{
			name: "a public route passes as anonymous with reason public_route",
			req:  request("GET", "/fhir/metadata", &pipeline.Route{Name: "public", Public: true}, identity.Principal{}),
			out:  pipeline.Outcome{Effect: pipeline.Allow, Anonymous: true}, status: 200,
			want: Record{Time: t0, RequestID: "rid", Route: "public", Method: "GET", Host: "example.com", Path: "/fhir/metadata",
				Decision: DecisionAnonymous, Status: 200, UpstreamStatus: 200, Reason: ReasonPublic, ClientIP: "192.0.2.7", Duration: 0.25},
		},
		{
			name: "a read without credentials on a limit route is a limited pass",
			req:  request("GET", "/orthanc/studies", &pipeline.Route{Name: "orthanc", Missing: pipeline.MissingLimit}, identity.Principal{}),
			out:  pipeline.Outcome{Effect: pipeline.Allow, Anonymous: true}, status: 200,
			want: Record{Time: t0, RequestID: "rid", Route: "orthanc", Method: "GET", Host: "example.com", Path: "/orthanc/studies",
				Decision: DecisionLimited, Status: 200, UpstreamStatus: 200, Reason: ReasonCredentialsMissing, ClientIP: "192.0.2.7", Duration: 0.25},
		},
		{
			name: "a certificate and a CWS signature record the fingerprint and the key user",
			req: request("POST", "/cws/inmates", &pipeline.Route{Name: "cws"}, identity.Principal{
				Device:      &identity.Facet{Kind: identity.Device, ID: "tablet-9", Proof: identity.ProofMTLS, Source: "ab12"},
				User:        &identity.Facet{Kind: identity.User, ID: "nurse7", Proof: identity.ProofCWS, Source: "keys"},
				Certificate: &identity.Certificate{SHA256: "ab12", Subject: "CN=tablet-9", Issuer: "CN=CA", Serial: "10", NotAfter: t0},
			}, "client_cert", "cws"),
			out: pipeline.Outcome{Effect: pipeline.Allow}, status: 201,
			want: Record{Time: t0, RequestID: "rid", Route: "cws", Method: "POST", Host: "example.com", Path: "/cws/inmates",
				Decision: DecisionAllow, Status: 201, UpstreamStatus: 201,
				Device:      &identity.Facet{Kind: identity.Device, ID: "tablet-9", Proof: identity.ProofMTLS, Source: "ab12"},
				User:        &identity.Facet{Kind: identity.User, ID: "nurse7", Proof: identity.ProofCWS, Source: "keys"},
				Verified:    []string{"client_cert", "cws"},
				Certificate: &Certificate{SHA256: "ab12", Subject: "CN=tablet-9", Issuer: "CN=CA", Serial: "10"},
				CWSKeyUser:  "nurse7", ClientIP: "192.0.2.7", Duration: 0.25},
		},
		{
			name: "an accepted override records the purpose of use and the overridden policies",
			req: func() *pipeline.Request {
				p := tokenPrincipal()
				p.Override, p.PurposeOfUse = true, []string{"ETREAT"}
				return request("GET", "/fhir/Patient/123", fhirRoute, p, "oidc")
			}(),
			out: pipeline.Outcome{Effect: pipeline.Allow, Decisions: []pipeline.PolicyResult{
				{Policy: "grants", Decision: pipeline.Allowed("override", "purpose:ETREAT", "overridden:1.3.6.1.4.1.33349.3.1.5.9.2.1.0")}}},
			status: 200,
			want: Record{Time: t0, RequestID: "rid", Route: "fhir", Method: "GET", Host: "example.com", Path: "/fhir/Patient/123",
				Decision: DecisionAllow, Status: 200, UpstreamStatus: 200,
				Application: tokenPrincipal().Application, User: tokenPrincipal().User, Verified: []string{"oidc"},
				Token: tokenPrincipal().Token, PurposeOfUse: []string{"ETREAT"}, Override: true,
				Overridden: []string{"1.3.6.1.4.1.33349.3.1.5.9.2.1.0"},
				Grounds:    []string{"override", "purpose:ETREAT", "overridden:1.3.6.1.4.1.33349.3.1.5.9.2.1.0"},
				Policies:   []PolicyResult{{Policy: "grants", Effect: "allow", Grounds: []string{"override", "purpose:ETREAT", "overridden:1.3.6.1.4.1.33349.3.1.5.9.2.1.0"}}},
				ClientIP:   "192.0.2.7", Duration: 0.25},
		},
		{
			name: "an override on a refused request is no accepted override",
			req: func() *pipeline.Request {
				p := tokenPrincipal()
				p.Override = true
				return request("GET", "/fhir/Patient/123", fhirRoute, p, "oidc")
			}(),
			out: pipeline.Outcome{Effect: pipeline.Deny, Failure: pipeline.Forbidden("override_not_allowed", nil)},
			want: Record{Time: t0, RequestID: "rid", Route: "fhir", Method: "GET", Host: "example.com", Path: "/fhir/Patient/123",
				Decision: DecisionDeny, Status: 403, Reason: "override_not_allowed",
				Application: tokenPrincipal().Application, User: tokenPrincipal().User, Verified: []string{"oidc"},
				Token: tokenPrincipal().Token, ClientIP: "192.0.2.7", Duration: 0.25},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NewRecord(tt.req, tt.out, tt.status, 250*time.Millisecond, "rid")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("NewRecord (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnauthenticated(t *testing.T) {
	tests := []struct {
		name string
		out  pipeline.Outcome
		want bool
	}{
		{"missing credentials are unauthenticated", pipeline.Outcome{Effect: pipeline.Deny, Failure: pipeline.Unauthorized("credentials_missing", nil)}, true},
		{"a rejected token is unauthenticated", pipeline.Outcome{Effect: pipeline.Deny, Failure: pipeline.Unauthorized("token_invalid", nil)}, true},
		{"a policy refusal is not", pipeline.Outcome{Effect: pipeline.Deny, Failure: pipeline.Forbidden("denied", nil)}, false},
		{"an allow is not", pipeline.Outcome{Effect: pipeline.Allow}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRecord(request(http.MethodGet, "/", nil, identity.Principal{}), tt.out, 0, 0, "")
			if got := r.Unauthenticated(); got != tt.want {
				t.Errorf("Unauthenticated() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRedactQuery(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"an empty query stays empty", "", ""},
		{"search parameters are kept as sent", "name=smith&_count=10&birthdate=gt2000", "name=smith&_count=10&birthdate=gt2000"},
		{"an access token is redacted", "access_token=abc.def.ghi&name=x", "access_token=REDACTED&name=x"},
		{"a semicolon does not hide a secret", "a=1;client_secret=s3cr3t", "a=1;client_secret=REDACTED"},
		{"an escaped and upper-case name is still recognized", "Access%5FToken=abc", "Access%5FToken=REDACTED"},
		{"a name that cannot be unescaped is redacted whole", "%zz=abc", "REDACTED=REDACTED"},
		{"a secret name without a value is kept", "code", "code"},
		{"a PKCE verifier, a device code and an ID token hint are redacted",
			"code_verifier=v&device_code=d&id_token_hint=h.h.h", "code_verifier=REDACTED&device_code=REDACTED&id_token_hint=REDACTED"},
		{"token-exchange and signed-URL credentials are redacted by their suffix",
			"subject_token=s&actor_token=a&X-Amz-Security-Token=t&X-Goog-Signature=g&X-Amz-Credential=c",
			"subject_token=REDACTED&actor_token=REDACTED&X-Amz-Security-Token=REDACTED&X-Goog-Signature=REDACTED&X-Amz-Credential=REDACTED"},
		{"a signed request object is redacted", "request=eyJ.eyJ.sig&client_id=app", "request=REDACTED&client_id=app"},
		{"FHIR search parameters, identifiers included, are kept", "identifier=urn:oid:1.2|123&_query=byMRN&_security=R",
			"identifier=urn:oid:1.2|123&_query=byMRN&_security=R"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RedactQuery(tt.in); got != tt.want {
				t.Errorf("RedactQuery(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestVerificationResult(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil is verified", nil, VerificationVerified},
		{"no credentials is absent", fmt.Errorf("oidc: %w", pipeline.ErrNoCredentials), VerificationAbsent},
		{"a refusal is failed", pipeline.Unauthorized("token_invalid", nil), VerificationFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := VerificationResult(tt.err); got != tt.want {
				t.Errorf("VerificationResult = %q, want %q", got, tt.want)
			}
		})
	}
}
