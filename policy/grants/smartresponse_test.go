package grants

import (
	"context"
	"net/http"
	"testing"

	"github.com/healthgate/healthgate/policy/pipeline"
)

func TestSMARTChecksResponsesUnderPatientScopes(t *testing.T) {
	json := http.Header{"Content-Type": {"application/fhir+json"}}
	tests := []struct {
		name      string
		status    int
		header    http.Header
		body      string
		truncated bool
		want      string // reason, or "" for pass
	}{
		{"an observation about the patient passes", 200, json, `{"resourceType":"Observation","id":"o1","subject":{"reference":"Patient/123"}}`, false, ""},
		{"an observation about another patient is refused", 200, json, `{"resourceType":"Observation","id":"o1","subject":{"reference":"Patient/456"}}`, false, ReasonResponseOutside},
		{"a search bundle with another patient's entry is refused", 200, json, `{"resourceType":"Bundle","type":"searchset","entry":[
			{"resource":{"resourceType":"Observation","subject":{"reference":"Patient/123"}}},
			{"resource":{"resourceType":"Observation","subject":{"reference":"Patient/456"}}}]}`, false, ReasonResponseOutside},
		{"a bundle with included resources outside the compartment passes", 200, json, `{"resourceType":"Bundle","type":"searchset","entry":[
			{"resource":{"resourceType":"Observation","subject":{"reference":"Patient/123"}}},
			{"resource":{"resourceType":"Practitioner","id":"p1"}},{"resource":{"resourceType":"OperationOutcome"}}]}`, false, ""},
		{"a nested bundle is followed", 200, json, `{"resourceType":"Bundle","type":"batch-response","entry":[
			{"resource":{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","id":"456"}}]}}]}`, false, ReasonResponseOutside},
		{"resources in Parameters parts are followed", 200, json, `{"resourceType":"Parameters","parameter":[{"name":"a","part":[{"name":"b","resource":{"resourceType":"Condition","subject":{"reference":"Patient/456"}}}]}]}`, false, ReasonResponseOutside},
		{"an error response passes as is", 404, json, `{"resourceType":"OperationOutcome"}`, false, ""},
		{"an empty response passes", 200, json, ``, false, ""},
		{"a truncated response cannot be checked", 200, json, `{"resourceType":"Bundle"`, true, ReasonResponseUnverifiable},
		{"a gzip response cannot be checked", 200, http.Header{"Content-Encoding": {"gzip"}}, "\x1f\x8b", false, ReasonResponseUnverifiable},
		{"an XML response cannot be checked", 200, http.Header{"Content-Type": {"application/fhir+xml"}}, `<Observation/>`, false, ReasonResponseUnverifiable},
		{"a JSON array cannot be checked", 200, json, `[]`, false, ReasonResponseUnverifiable},
	}
	s := testSMART(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := withToken(newRequest(http.MethodGet, "/fhir/Observation/o1", ""), []string{"patient/*.rs"}, "patient", "123")
			defer req.Finish()
			if d := s.Decide(context.Background(), req); d.Effect != pipeline.Allow {
				t.Fatalf("Decide = %v", reasonOf(d))
			}
			if got := s.ResponseLimit(req); got != DefaultMaxResponse {
				t.Fatalf("ResponseLimit = %d, want %d", got, DefaultMaxResponse)
			}
			f := s.CheckResponse(context.Background(), req, tt.status, tt.header, []byte(tt.body), tt.truncated)
			got := ""
			if f != nil {
				got = f.Reason
			}
			if got != tt.want {
				t.Errorf("CheckResponse = %v, want %q", f, tt.want)
			}
		})
	}
}

func TestSMARTNeedsNoResponseUnderUserScopes(t *testing.T) {
	s := testSMART(t)
	req := withToken(newRequest(http.MethodGet, "/fhir/Observation/o1", ""), []string{"user/*.rs"})
	s.Decide(context.Background(), req)
	if got := s.ResponseLimit(req); got != 0 {
		t.Errorf("ResponseLimit = %d, want 0", got)
	}
	req = withToken(newRequest(http.MethodGet, "/fhir/Observation/o1", ""), []string{"patient/*.rs"}, "patient", "123")
	s.Decide(context.Background(), req)
	req.Finish()
	if got := s.ResponseLimit(req); got != 0 {
		t.Errorf("ResponseLimit after Finish = %d, want 0 (no leak)", got)
	}
}
