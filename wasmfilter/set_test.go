package wasmfilter_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/healthgate/healthgate/policy/pipeline"
	"github.com/healthgate/healthgate/wasmfilter"
	"github.com/healthgate/healthgate/wasmfilter/wasmtest"
)

type decisionSummary struct {
	Effect  string
	Status  int
	Reason  string
	Grounds []string
}

func summarize(d pipeline.Decision) decisionSummary {
	s := decisionSummary{Effect: d.Effect.String(), Grounds: d.Grounds}
	if d.Failure != nil {
		s.Status, s.Reason = d.Failure.Status, d.Failure.Reason
	}
	return s
}

func TestSetCombinesRulesDenyOverrides(t *testing.T) {
	h := newHost(t)
	btg := newRule(t, h, wasmtest.WAT(t, "examples/breakglass_wat/breakglass.wat"), wasmfilter.Options{Name: "btg"})
	allow := newRule(t, h, fixture(t, "allow"), wasmfilter.Options{Name: "allow"})
	trap := newRule(t, h, fixture(t, "trap"), wasmfilter.Options{Name: "trap"})

	override := func(pou ...string) *pipeline.Request {
		req := request("/fhir/Patient", nil)
		req.Principal.Override = true
		req.Principal.PurposeOfUse = pou
		return req
	}
	tests := []struct {
		name string
		set  wasmfilter.Set
		req  *pipeline.Request
		want decisionSummary
	}{
		{"a deny after an allow wins", wasmfilter.Set{Rules: []*wasmfilter.Rule{allow, btg}}, override("TREAT"),
			decisionSummary{"deny", 403, "purpose_of_use_required", []string{"rule:btg"}}},
		{"an abstaining rule is skipped", wasmfilter.Set{Rules: []*wasmfilter.Rule{btg, allow}}, request("/x", nil),
			decisionSummary{Effect: "allow", Grounds: []string{"rule:allow"}}},
		{"two allows are both grounds", wasmfilter.Set{Rules: []*wasmfilter.Rule{btg, allow}}, override("EMERG"),
			decisionSummary{Effect: "allow", Grounds: []string{"rule:btg", "rule:allow"}}},
		{"all abstaining abstains by default", wasmfilter.Set{Rules: []*wasmfilter.Rule{btg}}, request("/x", nil),
			decisionSummary{Effect: "abstain"}},
		{"all abstaining denies when configured", wasmfilter.Set{Rules: []*wasmfilter.Rule{btg}, AllAbstain: pipeline.Deny}, request("/x", nil),
			decisionSummary{"deny", 403, "rules_abstained", []string{"rules:abstained"}}},
		{"all abstaining allows when configured", wasmfilter.Set{Rules: []*wasmfilter.Rule{btg}, AllAbstain: pipeline.Allow}, request("/x", nil),
			decisionSummary{Effect: "allow", Grounds: []string{"rules:abstained"}}},
		{"a failing rule refuses with 503 even after an allow", wasmfilter.Set{Rules: []*wasmfilter.Rule{allow, trap}}, request("/x", failing),
			decisionSummary{"deny", 503, "rule_failed", []string{"rule:trap"}}},
		{"a failing rule refuses with the configured status", wasmfilter.Set{Rules: []*wasmfilter.Rule{trap}, ErrorStatus: 500}, request("/x", failing),
			decisionSummary{"deny", 500, "rule_failed", []string{"rule:trap"}}},
		{"a rule after a deny does not run", wasmfilter.Set{Rules: []*wasmfilter.Rule{btg, trap}}, func() *pipeline.Request {
			r := override("TREAT")
			r.Principal.Claims = failing
			return r
		}(), decisionSummary{"deny", 403, "purpose_of_use_required", []string{"rule:btg"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.set.Decide(t.Context(), tt.req)
			if diff := cmp.Diff(tt.want, summarize(d)); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
			if d.Failure != nil && d.Failure.Err == nil {
				t.Errorf("a refusal without detail for the log")
			}
		})
	}
}

func TestSetAppliesObligationsOnAllow(t *testing.T) {
	h := newHost(t)
	obl := newRule(t, h, fixture(t, "forbidden_header"), wasmfilter.Options{Name: "obl",
		Obligations: wasmfilter.ObligationPolicy{Headers: []string{"X-Rule-Org", "X-Debug"}, Claims: []string{"rule_checked"}}})
	shared := map[string][]string{"role": {"NURSE"}}
	req := request("/fhir/Patient", shared)
	req.HTTP.Header.Set("X-Debug", "1")
	req.HTTP.Header.Set("Accept", "application/fhir+json")

	d := (&wasmfilter.Set{Rules: []*wasmfilter.Rule{obl}}).Decide(t.Context(), req)
	if d.Effect != pipeline.Allow {
		t.Fatalf("got %v, want allow", summarize(d))
	}
	if diff := cmp.Diff(http.Header{"X-Rule-Org": {"org-42"}}, req.Upstream); diff != "" {
		t.Errorf("upstream headers (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(http.Header{"Accept": {"application/fhir+json"}}, req.HTTP.Header); diff != "" {
		t.Errorf("request headers (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string][]string{"role": {"NURSE"}, "rule_checked": {"yes"}}, req.Principal.Claims); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
	if _, ok := shared["rule_checked"]; ok {
		t.Errorf("the claim leaked into the map the request shared with its verifier")
	}
}

func TestSetRefusesObligationsOutsideTheAllowList(t *testing.T) {
	obl := newRule(t, newHost(t), fixture(t, "forbidden_header"), wasmfilter.Options{Name: "obl",
		Obligations: wasmfilter.ObligationPolicy{Headers: []string{"X-Debug"}}})
	req := request("/fhir/Patient", nil)
	d := (&wasmfilter.Set{Rules: []*wasmfilter.Rule{obl}}).Decide(t.Context(), req)
	if diff := cmp.Diff(decisionSummary{"deny", 503, "rule_failed", []string{"rule:obl"}}, summarize(d)); diff != "" {
		t.Errorf("decision (-want +got):\n%s", diff)
	}
	if len(req.Upstream) != 0 {
		t.Errorf("upstream headers %v set by a refused rule", req.Upstream)
	}
}

// Later rules see the claims an earlier rule added.
func TestLaterRulesSeeClaimsAddedByEarlierRules(t *testing.T) {
	h := newHost(t)
	obl := newRule(t, h, fixture(t, "forbidden_header"), wasmfilter.Options{Name: "obl",
		Obligations: wasmfilter.ObligationPolicy{Headers: []string{"X-Rule-Org", "X-Debug"}, Claims: []string{"rule_checked"}}})
	nurse := newRule(t, h, goRule(t, "examples/nurse"), wasmfilter.Options{Name: "nurse",
		Config: map[string][]string{"role_claim": {"rule_checked"}, "role": {"yes"}},
		Limits: wasmfilter.Limits{Timeout: time.Second}})
	set := &wasmfilter.Set{Rules: []*wasmfilter.Rule{obl, nurse}, FHIR: wasmfilter.FHIRFacter("/fhir")}
	d := set.Decide(t.Context(), request("/fhir/Observation", nil))
	if diff := cmp.Diff(decisionSummary{"deny", 403, "nurse_patient_only", []string{"rule:nurse"}}, summarize(d)); diff != "" {
		t.Errorf("decision (-want +got):\n%s", diff)
	}
}

// A claim obligation never replaces a claim the principal came with, even an
// allow-listed one: a rule could otherwise rewrite a verified role or
// patient for later rules and the identity headers.
func TestSetRefusesClaimsThatShadowVerifiedClaims(t *testing.T) {
	obl := newRule(t, newHost(t), fixture(t, "forbidden_header"), wasmfilter.Options{Name: "obl",
		Obligations: wasmfilter.ObligationPolicy{Headers: []string{"X-Rule-Org", "X-Debug"}, Claims: []string{"rule_checked"}}})
	verified := map[string][]string{"rule_checked": {"no"}}
	req := request("/fhir/Patient", verified)
	d := (&wasmfilter.Set{Rules: []*wasmfilter.Rule{obl}, AllAbstain: pipeline.Allow}).Decide(t.Context(), req)
	if diff := cmp.Diff(decisionSummary{"deny", 503, "rule_failed", []string{"rule:obl"}}, summarize(d)); diff != "" {
		t.Errorf("decision (-want +got):\n%s", diff)
	}
	if classOf(d.Failure.Err) != wasmfilter.ClassABI {
		t.Errorf("class %q, want %q", classOf(d.Failure.Err), wasmfilter.ClassABI)
	}
	if diff := cmp.Diff(map[string][]string{"rule_checked": {"no"}}, req.Principal.Claims); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
	if len(req.Upstream) != 0 {
		t.Errorf("upstream headers %v set by a refused rule", req.Upstream)
	}
}

// The host refuses a forbidden obligation header itself, not only the
// Caddyfile: a rule loaded by the library or the test command cannot set
// Authorization because its allow-list says so.
func TestNewRuleRefusesForbiddenObligationHeaders(t *testing.T) {
	for _, h := range []string{"Authorization", "x_forwarded_for", "X-Healthgate-User"} {
		_, err := newHost(t).NewRule(t.Context(), fixture(t, "forbidden_header"), wasmfilter.Options{Name: "obl",
			Obligations: wasmfilter.ObligationPolicy{Headers: []string{h}}})
		if err == nil || !strings.Contains(err.Error(), "can never be a rule obligation") {
			t.Errorf("%s: got %v, want the rule refused", h, err)
		}
	}
}
