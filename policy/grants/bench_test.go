package grants

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/healthgate/healthgate/policy/fhir"
	"github.com/healthgate/healthgate/policy/pipeline"
)

// The baseline is classifying the request alone (fhir.Parse of path and
// query); the others are whole policy decisions on a typical request:
// GET /fhir/Observation?patient=123&code=… with a SMART token.
func BenchmarkBaselineFHIRParse(b *testing.B) {
	r, _ := http.NewRequest(http.MethodGet, "/fhir/Observation?patient=123&code=http://loinc.org|8867-4&_count=50", nil)
	p := fhir.Parser{Base: "/fhir"}
	for b.Loop() {
		q, _ := url.ParseQuery(r.URL.RawQuery)
		if _, err := p.Parse(r.Method, r.URL.EscapedPath(), q); err != nil {
			b.Fatal(err)
		}
	}
}

func benchDecide(b *testing.B, pol pipeline.Policy, req *pipeline.Request, want pipeline.Effect) {
	b.Helper()
	ctx := context.Background()
	for b.Loop() {
		if d := pol.Decide(ctx, req); d.Effect != want {
			b.Fatalf("decision %v", reasonOf(d))
		}
		req.Finish()
	}
}

// benchDecideFresh decides over a new Request per iteration, as SMART sees
// each request: reusing one would keep its cached FHIR classification
// (Request.FHIR) and leave the parse every request pays once out of the
// measure. The Request's allocation is counted too.
func benchDecideFresh(b *testing.B, pol pipeline.Policy, req *pipeline.Request, want pipeline.Effect) {
	b.Helper()
	ctx := context.Background()
	for b.Loop() {
		r := pipeline.NewRequest(req.HTTP, req.Route, req.Now)
		r.Principal = req.Principal
		if d := pol.Decide(ctx, r); d.Effect != want {
			b.Fatalf("decision %v", reasonOf(d))
		}
		r.Finish()
	}
}

func BenchmarkSMARTDecideUserScope(b *testing.B) {
	req := withToken(newRequest(http.MethodGet, "/fhir/Observation?patient=123&code=http://loinc.org|8867-4&_count=50", ""),
		[]string{"openid", "fhirUser", "user/Observation.rs", "user/Patient.rs", "user/Condition.rs"})
	benchDecideFresh(b, testSMART(b), req, pipeline.Allow)
}

func BenchmarkSMARTDecidePatientScope(b *testing.B) {
	req := withToken(newRequest(http.MethodGet, "/fhir/Observation?patient=123&code=http://loinc.org|8867-4&_count=50", ""),
		[]string{"openid", "fhirUser", "launch/patient", "patient/Observation.rs", "patient/Patient.rs"}, "patient", "123")
	benchDecideFresh(b, testSMART(b), req, pipeline.Allow)
}

func BenchmarkGrantPolicyResourceRoute(b *testing.B) {
	rs, _ := NewRules([]Rule{{Effect: EffectDeny, Policy: PolicyFor(Password, true), Subjects: []Subject{{SubjectRole, "SYNCHRONIZERS"}}}})
	g := &GrantPolicy{Rules: rs}
	g.Provision()
	req := withToken(newRequest(http.MethodGet, "/fhir/Observation?patient=123", ""), nil, "authmethod", "Password", "role", "CLINICAL", "appid", "app-1")
	benchDecide(b, g, req, pipeline.Abstain)
}

func BenchmarkRequirePolicyOIDs(b *testing.B) {
	r := &RequirePolicy{OIDs: []string{OIDBase + ".2.3"}}
	if err := r.Provision(); err != nil {
		b.Fatal(err)
	}
	req := withToken(newRequest(http.MethodGet, "/santedb/Patient", ""),
		[]string{OIDBase + ".0", OIDBase + ".1", OIDBase + ".2.3", OIDBase + ".4", OIDBase + ".6", OIDBase + ".2"})
	benchDecide(b, r, req, pipeline.Allow)
}

func BenchmarkBreakGlassOverride(b *testing.B) {
	bg := &BreakGlassPolicy{BreakGlass{Purposes: []string{"EMERG"}, Policies: []string{superSecret}}}
	if err := bg.Provision(); err != nil {
		b.Fatal(err)
	}
	req := withToken(newRequest(http.MethodGet, "/fhir/Patient/1", "", ClientClaimHeader, b64("urn:santedb:org:claim:override=true;urn:oasis:names:tc:xacml:2.0:action:purpose=EMERG")),
		[]string{superSecret, OIDOverride}, "isOverride", "true")
	benchDecide(b, bg, req, pipeline.Allow)
}
