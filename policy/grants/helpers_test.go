package grants

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/healthgate/healthgate/policy/identity"
	"github.com/healthgate/healthgate/policy/pipeline"
)

// newRequest builds a pipeline request; body may be "".
func newRequest(method, target, body string, hdr ...string) *pipeline.Request {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	return pipeline.NewRequest(r, &pipeline.Route{}, time.Now())
}

// withToken gives the request a verified token with scopes and claims
// (name, value, name, value…).
func withToken(req *pipeline.Request, scopes []string, claims ...string) *pipeline.Request {
	req.Principal.Token = &identity.Token{Issuer: "https://op.example", Subject: "u1", ClientID: "app-1"}
	req.Principal.Scopes = scopes
	for i := 0; i+1 < len(claims); i += 2 {
		req.Principal.Claims = addClaim(req.Principal.Claims, claims[i], claims[i+1])
	}
	return req
}

func addClaim(m map[string][]string, k, v string) map[string][]string {
	if m == nil {
		m = map[string][]string{}
	}
	m[k] = append(m[k], v)
	return m
}

// reasonOf returns the decision's effect and failure reason ("" if none).
func reasonOf(d pipeline.Decision) string {
	if d.Failure == nil {
		return d.Effect.String()
	}
	return d.Effect.String() + ":" + d.Failure.Reason
}

func wantDecision(t *testing.T, d pipeline.Decision, want string) {
	t.Helper()
	if diff := cmp.Diff(want, reasonOf(d)); diff != "" {
		t.Errorf("decision (-want +got):\n%s\nerr: %v", diff, d.Failure)
	}
}

// readUpstream returns what the upstream would read from the request body.
func readUpstream(t *testing.T, req *pipeline.Request) string {
	t.Helper()
	if req.HTTP.Body == nil {
		return ""
	}
	b, err := io.ReadAll(req.HTTP.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
