package wasmfilter_test

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/healthgate/healthgate/policy/identity"
	"github.com/healthgate/healthgate/policy/pipeline"
	"github.com/healthgate/healthgate/wasmfilter"
)

func attrs(in *wasmfilter.Input, key string) []string {
	b, n := in.AppendAttr(nil, key)
	if n == 0 {
		if len(b) != 0 {
			return []string{"<absent but wrote bytes>"}
		}
		return nil
	}
	vs := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	if len(vs) != n {
		return []string{"<count mismatch>"}
	}
	return vs
}

func TestInputAttributes(t *testing.T) {
	r := httptest.NewRequest("GET", "https://fhir.example/fhir/Patient?organization=org-42&_count=5", nil)
	r.Header.Set("Accept", "application/fhir+json")
	r.Header.Set("Authorization", "Bearer secret")
	r.Header.Set("X-Request-Id", "r1")
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	req := pipeline.NewRequest(r, &pipeline.Route{Name: "fhir"}, now)
	req.ClientIP = "10.0.0.5"
	req.Verified = []string{"client_cert", "oidc"}
	req.Principal = identity.Principal{
		Device: &identity.Facet{Kind: identity.Device, ID: "ward-7", Proof: identity.ProofMTLS, Source: "sha256:ab"},
		User:   &identity.Facet{Kind: identity.User, ID: "n17", Name: "Nurse Joy", Proof: identity.ProofJWT},
		Claims: map[string][]string{"role": {"NURSE"}, "org": {"org-42"}},
		Scopes: []string{"user/Patient.read", "openid"}, PurposeOfUse: []string{"TREAT"},
		Certificate: &identity.Certificate{SHA256: "ab", Subject: "CN=ward-7", URIs: []string{"spiffe://h/ward-7"},
			NotAfter: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		Token: &identity.Token{Issuer: "https://idp", Subject: "n17", ClientID: "app"},
	}
	in := wasmfilter.NewInput(req, []string{"accept", "x-request-id", "x-absent"}, wasmfilter.FHIRFacter("/fhir"))

	tests := []struct {
		key  string
		want []string
	}{
		{"request.method", []string{"GET"}},
		{"request.host", []string{"fhir.example"}},
		{"request.path", []string{"/fhir/Patient"}},
		{"request.remote_ip", []string{"10.0.0.5"}},
		{"request.header.accept", []string{"application/fhir+json"}},
		{"request.header.authorization", nil},
		{"request.header.x-absent", nil},
		{"route", []string{"fhir"}},
		{"verified", []string{"client_cert", "oidc"}},
		{"principal.id", []string{"n17"}},
		{"principal.anonymous", []string{"false"}},
		{"device.id", []string{"ward-7"}},
		{"device.proof", []string{"mtls"}},
		{"device.source", []string{"sha256:ab"}},
		{"user.name", []string{"Nurse Joy"}},
		{"application.id", nil},
		{"claims.role", []string{"NURSE"}},
		{"claims.absent", nil},
		{"scopes", []string{"user/Patient.read", "openid"}},
		{"purpose_of_use", []string{"TREAT"}},
		{"override", []string{"false"}},
		{"cert.present", []string{"true"}},
		{"cert.subject", []string{"CN=ward-7"}},
		{"cert.uris", []string{"spiffe://h/ward-7"}},
		{"cert.not_after", []string{"2027-01-01T00:00:00Z"}},
		{"cert.forwarded", []string{"false"}},
		{"token.iss", []string{"https://idp"}},
		{"token.client_id", []string{"app"}},
		{"fhir.resource_type", []string{"Patient"}},
		{"fhir.interaction", []string{"search-type"}},
		{"fhir.search.organization", []string{"org-42"}},
		{"fhir.search._count", nil},
		{"fhir.compartment.Patient", nil},
		{"time.unix_ms", []string{"1795428000000"}},
		{"nonsense", nil},
		{"", nil},
		{"claims.", nil},
	}
	for _, tt := range tests {
		t.Run("attribute "+tt.key+" reads as expected", func(t *testing.T) {
			if diff := cmp.Diff(tt.want, attrs(in, tt.key)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	t.Run("the JSON context never holds the Authorization header", func(t *testing.T) {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("secret")) {
			t.Errorf("context %s leaks the bearer token", b)
		}
	})
}

func TestCheckContextHeaderRefusesCredentials(t *testing.T) {
	for _, h := range []string{"Authorization", "proxy-authorization", "Cookie", "bad header"} {
		t.Run(h+" is refused", func(t *testing.T) {
			if wasmfilter.CheckContextHeader(h) == nil {
				t.Errorf("accepted")
			}
		})
	}
	if err := wasmfilter.CheckContextHeader("X-Request-Id"); err != nil {
		t.Errorf("X-Request-Id refused: %v", err)
	}
}

func TestCheckObligationHeader(t *testing.T) {
	extra := []string{"X-SSL-ClientCert"}
	for _, h := range []string{"Authorization", "Proxy-Authorization", "Connection", "Transfer-Encoding", "Upgrade",
		"TE", "Forwarded", "X-Forwarded-For", "x_forwarded_host", "X-Healthgate-User", "X-Real-IP", "Host", "Cookie",
		"X-SSL-ClientCert", "x-ssl_clientcert", "X-SanteDBClient-Claim",
		// An underscore name may reach the upstream as its dashed twin,
		// such as an identity header configured as X-Remote-User.
		"X_Remote_User", "x_authz_org"} {
		t.Run(h+" can never be an obligation", func(t *testing.T) {
			if wasmfilter.CheckObligationHeader(h, extra) == nil {
				t.Errorf("accepted")
			}
		})
	}
	for _, h := range []string{"X-Authz-Org", "X-Debug"} {
		t.Run(h+" may be an obligation", func(t *testing.T) {
			if err := wasmfilter.CheckObligationHeader(h, extra); err != nil {
				t.Errorf("refused: %v", err)
			}
		})
	}
}
