package wasmfilter_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/healthgate/healthgate/policy/pipeline"
	"github.com/healthgate/healthgate/wasmfilter"
)

func TestFHIRFacterBase(t *testing.T) {
	read := wasmfilter.FHIRFacts{ResourceType: "Patient", ID: "1", Interaction: "read"}
	tests := []struct {
		name, base, handlerBase, target string
		want                            wasmfilter.FHIRFacts
	}{
		{"its own base", "/fhir", "", "/fhir/Patient/1", read},
		{"no base of its own: the handler's", "", "/fhir", "/fhir/Patient/1", read},
		{"its own base overrides the handler's", "/api", "/fhir", "/api/Patient/1", read},
		{"outside the base: no facts", "/api", "/fhir", "/fhir/Patient/1", wasmfilter.FHIRFacts{}},
		{"no base anywhere: no facts, not the root", "", "", "/Patient/1", wasmfilter.FHIRFacts{}},
		{"/ is the root", "/", "/fhir", "/Patient/1", read},
		{"a malformed request: no facts", "/fhir", "", "/fhir/Patient/1?a=%zz", wasmfilter.FHIRFacts{}},
		{"a compartment search names the compartment", "", "/fhir", "/fhir/Patient/1/Observation?code=x",
			wasmfilter.FHIRFacts{ResourceType: "Observation", Interaction: "search-type",
				Compartment: map[string]string{"Patient": "1"}, Search: map[string][]string{"code": {"x"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := pipeline.NewRequest(httptest.NewRequest("GET", tt.target, nil), &pipeline.Route{}, time.Now())
			req.FHIRBase = tt.handlerBase
			got := wasmfilter.FHIRFacter(tt.base)(req)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("facts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFHIRFacterSharesTheRequestsClassification(t *testing.T) {
	req := pipeline.NewRequest(httptest.NewRequest("GET", "/fhir/Patient/1", nil), &pipeline.Route{}, time.Now())
	if _, err := req.FHIR("/fhir"); err != nil {
		t.Fatal(err)
	}
	// A policy classified the request already; rules must see that
	// classification, not a second parse of a changed URL.
	req.HTTP.URL.Path = "/fhir/Observation/2"
	if got := wasmfilter.FHIRFacter("/fhir/")(req); got.ResourceType != "Patient" {
		t.Errorf("rules see %+v, want the cached Patient read", got)
	}
}
