package audit

import (
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/healthgate/healthgate/policy/fhir"
)

func TestDescribeFHIR(t *testing.T) {
	p := fhir.Parser{Base: "/fhir"}
	tests := []struct {
		name, method, target string
		want                 *FHIR
	}{
		{"a read names type, id and interaction", "GET", "/fhir/Patient/123", &FHIR{Interaction: "read", Type: "Patient", ID: "123"}},
		{"a compartment search names the compartment", "GET", "/fhir/Patient/123/Observation?code=x", &FHIR{Interaction: "search-type", Type: "Observation", Compartment: "Patient/123"}},
		{"a create names the type", "POST", "/fhir/Observation", &FHIR{Interaction: "create", Type: "Observation"}},
		{"a path outside the base has no FHIR facts", "GET", "/orthanc/studies", nil},
		{"a malformed query has no FHIR facts", "GET", "/fhir/Patient?a=%zz", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DescribeFHIR(p, httptest.NewRequest(tt.method, tt.target, nil))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DescribeFHIR (-want +got):\n%s", diff)
			}
		})
	}
}
