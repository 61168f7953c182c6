package audit

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/healthgate/healthgate/policy/pipeline"
)

// describeTests hold for DescribeRequest with the base /fhir, whichever way
// it is spelled.
var describeTests = []struct {
	name, method, target string
	want                 *FHIR
}{
	{"a read names type, id and interaction", "GET", "/fhir/Patient/123", &FHIR{Interaction: "read", Type: "Patient", ID: "123"}},
	{"a compartment search names the compartment", "GET", "/fhir/Patient/123/Observation?code=x", &FHIR{Interaction: "search-type", Type: "Observation", Compartment: "Patient/123"}},
	{"a create names the type", "POST", "/fhir/Observation", &FHIR{Interaction: "create", Type: "Observation"}},
	{"an operation names the operation", "GET", "/fhir/Patient/1/$everything", &FHIR{Interaction: "operation", Type: "Patient", ID: "1", Operation: "everything"}},
	{"a path outside the base has no FHIR facts", "GET", "/orthanc/studies", nil},
	{"a malformed query has no FHIR facts", "GET", "/fhir/Patient?a=%zz", nil},
}

func TestDescribeRequest(t *testing.T) {
	for _, tt := range describeTests {
		t.Run(tt.name, func(t *testing.T) {
			req := pipeline.NewRequest(httptest.NewRequest(tt.method, tt.target, nil), &pipeline.Route{}, time.Now())
			// A policy classified the request first: the record must
			// describe that same Interaction, not a parse of its own.
			// Marking the cached one shows which was described.
			first, _ := req.FHIR("/fhir/")
			want := tt.want
			if first != nil {
				first.Operation = "marked-by-the-test"
				w := *want
				w.Operation = first.Operation
				want = &w
			}
			got := DescribeRequest(req, "/fhir")
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("DescribeRequest (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("no base, no FHIR facts", func(t *testing.T) {
		req := pipeline.NewRequest(httptest.NewRequest("GET", "/Patient/1", nil), &pipeline.Route{}, time.Now())
		if got := DescribeRequest(req, ""); got != nil {
			t.Errorf("DescribeRequest without a base = %+v, want nil", got)
		}
	})
}
