package wasmfilter_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/healthgate/healthgate/policy/identity"
	"github.com/healthgate/healthgate/policy/pipeline"
	"github.com/healthgate/healthgate/wasmfilter"
	"github.com/healthgate/healthgate/wasmfilter/wasmtest"
)

// nurseVerifier stands in for the verifiers: it puts a fixed nurse with an
// override and EMERG on the request, so every rule has work to do.
type nurseVerifier struct{ claims map[string][]string }

func (v nurseVerifier) Verify(_ context.Context, req *pipeline.Request) error {
	req.Principal.User = &identity.Facet{Kind: identity.User, ID: "n17", Proof: identity.ProofJWT}
	req.Principal.Claims = v.claims
	req.Principal.Override = true
	req.Principal.PurposeOfUse = []string{"TREAT", "EMERG"}
	return nil
}

// BenchmarkPipeline measures one request through the healthgate pipeline:
// empty (a verifier, no policy) as the baseline, then with one rule of each
// kind, each allowing after reading its attributes. Report ratios against
// "empty".
//
//	go test -run '^$' -bench BenchmarkPipeline -benchmem -count 5 ./wasmfilter/
func BenchmarkPipeline(b *testing.B) {
	h := newHost(b)
	limits := wasmfilter.Limits{Timeout: time.Second, MinInstances: 1, MaxInstances: 1}
	load := func(name string, wasm []byte) *wasmfilter.Rule {
		return newRule(b, h, wasm, wasmfilter.Options{Name: name, Limits: limits})
	}
	btgWAT := load("btg-wat", wasmtest.WAT(b, "examples/breakglass_wat/breakglass.wat"))
	btgGo := load("btg-go", goRule(b, "examples/breakglass"))
	nurse := load("nurse-go", goRule(b, "examples/nurse"))
	allow := load("allow-wat", fixture(b, "allow"))

	httpReq := httptest.NewRequest("GET", "https://fhir.example/fhir/Patient?organization=org-42", nil)
	route := &pipeline.Route{Name: "fhir"}
	verifier := pipeline.NamedVerifier{Name: "oidc", Verifier: nurseVerifier{claims: map[string][]string{"role": {"NURSE"}, "org": {"org-42"}}}}
	set := func(rules ...*wasmfilter.Rule) []pipeline.NamedPolicy {
		return []pipeline.NamedPolicy{{Name: "rule", Policy: &wasmfilter.Set{Rules: rules, FHIR: wasmfilter.FHIRFacter("/fhir")}}}
	}
	cases := []struct {
		name     string
		policies []pipeline.NamedPolicy
	}{
		{"empty", nil},
		{"wat_allow", set(allow)},
		{"wat_breakglass", set(btgWAT)},
		{"go_breakglass", set(btgGo)},
		{"go_nurse", set(nurse)},
	}
	for _, c := range cases {
		p := &pipeline.Pipeline{Verifiers: []pipeline.NamedVerifier{verifier}, Policies: c.policies}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			now := time.Now()
			for b.Loop() {
				out := p.Run(ctx, pipeline.NewRequest(httpReq, route, now))
				if out.Effect != pipeline.Allow {
					b.Fatalf("got %v %v", out.Effect, out.Failure)
				}
			}
		})
	}
}

// BenchmarkEvaluate measures Rule.Evaluate alone over a prepared context.
func BenchmarkEvaluate(b *testing.B) {
	h := newHost(b)
	limits := wasmfilter.Limits{Timeout: time.Second, MinInstances: 1, MaxInstances: 1}
	for _, c := range []struct {
		name string
		wasm func() []byte
	}{
		{"wat_breakglass", func() []byte { return wasmtest.WAT(b, "examples/breakglass_wat/breakglass.wat") }},
		{"go_breakglass", func() []byte { return goRule(b, "examples/breakglass") }},
	} {
		r := newRule(b, h, c.wasm(), wasmfilter.Options{Name: c.name, Limits: limits})
		in := input(nil)
		in.Principal.Override = true
		in.Principal.PurposeOfUse = []string{"TREAT", "EMERG"}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if res, err := r.Evaluate(in); err != nil || res.Effect != pipeline.Allow {
					b.Fatalf("got %v %v", res, err)
				}
			}
		})
	}
}
