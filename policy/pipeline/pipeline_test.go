package pipeline

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/healthgate/healthgate/policy/identity"
)

// verifierFunc and policyFunc adapt functions to the interfaces; the
// pipeline's combination logic is what is under test here.
type verifierFunc func(*Request) error

func (f verifierFunc) Verify(_ context.Context, r *Request) error { return f(r) }

type challengingVerifier struct{ verifierFunc }

func (challengingVerifier) Challenge(realm string) string { return `Bearer realm="` + realm + `"` }

type policyFunc func(*Request) Decision

func (f policyFunc) Decide(_ context.Context, r *Request) Decision { return f(r) }

type anonymousPolicy struct{ policyFunc }

func (anonymousPolicy) DecidesAnonymous() {}

var (
	noCredentials = verifierFunc(func(*Request) error { return ErrNoCredentials })
	verifiesUser  = verifierFunc(func(r *Request) error {
		return r.Principal.Add(&identity.Facet{Kind: identity.User, ID: "allison", Proof: identity.ProofJWT})
	})
	refusesToken = verifierFunc(func(*Request) error { return Unauthorized("invalid_token", errors.New("expired")) })
	breaks       = verifierFunc(func(*Request) error { return errors.New("something internal") })
	unavailable  = verifierFunc(func(*Request) error { return ErrUnavailable })
	denies       = policyFunc(func(*Request) Decision { return Denied(Forbidden("scope_missing", nil), "patient/*.read") })
	allows       = policyFunc(func(*Request) Decision { return Allowed("system/*.read") })
	abstains     = policyFunc(func(*Request) Decision { return Abstained() })
	forgets      = policyFunc(func(*Request) Decision { return Decision{Effect: Deny} })
)

func TestRun(t *testing.T) {
	tests := []struct {
		name       string
		verifiers  []NamedVerifier
		policies   []NamedPolicy
		route      Route
		method     string
		wantEffect Effect
		wantStatus int
		wantReason string
		anonymous  bool
	}{
		{name: "a public route passes without running verifiers",
			verifiers: []NamedVerifier{{"oidc", refusesToken}}, route: Route{Public: true},
			wantEffect: Allow, anonymous: true},
		{name: "verified credentials with no policy are allowed",
			verifiers: []NamedVerifier{{"oidc", verifiesUser}}, wantEffect: Allow},
		{name: "a failed verifier refuses with its reason",
			verifiers:  []NamedVerifier{{"client_cert", noCredentials}, {"oidc", refusesToken}},
			wantEffect: Deny, wantStatus: 401, wantReason: "invalid_token"},
		{name: "a verifier error that is not a Failure still refuses",
			verifiers: []NamedVerifier{{"x", breaks}}, wantEffect: Deny, wantStatus: 401, wantReason: "credentials_invalid"},
		{name: "an unavailable dependency refuses with 503",
			verifiers: []NamedVerifier{{"x", unavailable}}, wantEffect: Deny, wantStatus: 503, wantReason: "dependency_unavailable"},
		{name: "missing credentials are rejected by default",
			verifiers: []NamedVerifier{{"oidc", noCredentials}}, wantEffect: Deny, wantStatus: 401, wantReason: "credentials_missing"},
		{name: "missing ignore passes a write as anonymous",
			verifiers: []NamedVerifier{{"oidc", noCredentials}}, route: Route{Missing: MissingIgnore}, method: "POST",
			wantEffect: Allow, anonymous: true},
		{name: "missing limit passes a read as anonymous",
			route: Route{Missing: MissingLimit}, method: "HEAD", wantEffect: Allow, anonymous: true},
		{name: "missing limit refuses a write",
			route: Route{Missing: MissingLimit}, method: "PUT", wantEffect: Deny, wantStatus: 401, wantReason: "credentials_missing"},
		{name: "a required credential that did not verify refuses even when another did",
			verifiers: []NamedVerifier{{"client_cert", noCredentials}, {"oidc", verifiesUser}},
			route:     Route{Require: []string{"client_cert"}}, wantEffect: Deny, wantStatus: 401, wantReason: "client_cert_required"},
		{name: "a deny overrides an allow",
			verifiers:  []NamedVerifier{{"oidc", verifiesUser}},
			policies:   []NamedPolicy{{"a", allows}, {"b", abstains}, {"smart", denies}},
			wantEffect: Deny, wantStatus: 403, wantReason: "scope_missing"},
		{name: "a deny without a failure still refuses",
			verifiers: []NamedVerifier{{"oidc", verifiesUser}}, policies: []NamedPolicy{{"x", forgets}},
			wantEffect: Deny, wantStatus: 403, wantReason: "denied"},
		{name: "policies that abstain allow an authenticated request",
			verifiers: []NamedVerifier{{"oidc", verifiesUser}}, policies: []NamedPolicy{{"b", abstains}},
			wantEffect: Allow},
		{name: "ordinary policies do not judge anonymous passes",
			route: Route{Missing: MissingIgnore}, policies: []NamedPolicy{{"smart", denies}},
			wantEffect: Allow, anonymous: true},
		{name: "an anonymous decider judges anonymous passes",
			route: Route{Missing: MissingIgnore}, policies: []NamedPolicy{{"grants", anonymousPolicy{denies}}},
			wantEffect: Deny, wantStatus: 403, wantReason: "scope_missing", anonymous: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			p := &Pipeline{Verifiers: tt.verifiers, Policies: tt.policies}
			route := tt.route
			req := NewRequest(httptest.NewRequest(method, "/Patient/1", nil), &route, time.Now())
			out := p.Run(context.Background(), req)
			if out.Effect != tt.wantEffect || out.Anonymous != tt.anonymous {
				t.Fatalf("effect %v anonymous %v, want %v %v (failure %v)", out.Effect, out.Anonymous, tt.wantEffect, tt.anonymous, out.Failure)
			}
			if tt.wantEffect == Deny {
				if out.Failure == nil || out.Failure.Status != tt.wantStatus || out.Failure.Reason != tt.wantReason {
					t.Fatalf("failure %v, want %d %s", out.Failure, tt.wantStatus, tt.wantReason)
				}
			}
		})
	}
}

func TestChallenges(t *testing.T) {
	t.Run("verifiers that name a scheme are challenged in order", func(t *testing.T) {
		p := &Pipeline{Realm: "santedb", Verifiers: []NamedVerifier{{"oidc", challengingVerifier{noCredentials}}}}
		out := p.Run(context.Background(), NewRequest(httptest.NewRequest("GET", "/", nil), &Route{}, time.Now()))
		if got := out.Failure.Challenge; got != `Bearer realm="santedb"` {
			t.Fatalf("challenge %q", got)
		}
	})
	t.Run("a certificate-only site still sends a challenge", func(t *testing.T) {
		p := &Pipeline{Verifiers: []NamedVerifier{{"client_cert", noCredentials}}}
		out := p.Run(context.Background(), NewRequest(httptest.NewRequest("GET", "/", nil), &Route{}, time.Now()))
		if got := out.Failure.Challenge; got != `Bearer realm="healthgate"` {
			t.Fatalf("challenge %q", got)
		}
	})
}

func TestOnVerifyReportsEachVerifier(t *testing.T) {
	var seen []string
	p := &Pipeline{
		Verifiers: []NamedVerifier{{"client_cert", noCredentials}, {"oidc", verifiesUser}},
		OnVerify: func(name string, err error, _ time.Duration) {
			seen = append(seen, name+":"+map[bool]string{true: "ok", false: "no"}[err == nil])
		},
	}
	p.Run(context.Background(), NewRequest(httptest.NewRequest("GET", "/", nil), &Route{}, time.Now()))
	if len(seen) != 2 || seen[0] != "client_cert:no" || seen[1] != "oidc:ok" {
		t.Fatalf("OnVerify saw %v", seen)
	}
}

func TestFinishRunsDeferredWorkOnceLastFirst(t *testing.T) {
	req := NewRequest(httptest.NewRequest("GET", "/", nil), &Route{}, time.Now())
	var order []int
	req.Defer(func() { order = append(order, 1) })
	req.Defer(func() { order = append(order, 2) })
	req.Finish()
	req.Finish()
	if len(order) != 2 || order[0] != 2 || order[1] != 1 {
		t.Fatalf("order %v", order)
	}
}

func TestJudgesAreTheGlobalThenTheRoutesPolicies(t *testing.T) {
	grants := NamedPolicy{"grants", anonymousPolicy{allows}}
	p := &Pipeline{Policies: []NamedPolicy{{"smart", denies}, grants}}
	req := NewRequest(httptest.NewRequest("GET", "/", nil), &Route{Policies: []NamedPolicy{{"rule", abstains}}}, time.Now())
	names := func(anonymous bool) (out []string) {
		for pol := range p.Judges(req, anonymous) {
			out = append(out, pol.Name)
		}
		return out
	}
	if got := names(false); len(got) != 3 || got[0] != "smart" || got[1] != "grants" || got[2] != "rule" {
		t.Errorf("authenticated judges = %v", got)
	}
	if got := names(true); len(got) != 1 || got[0] != "grants" {
		t.Errorf("anonymous judges = %v, want only the anonymous decider", got)
	}
}
