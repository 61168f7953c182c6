package fhir

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseBundleClassifiesEachEntry(t *testing.T) {
	body := `{"resourceType":"Bundle","type":"transaction","entry":[
		{"request":{"method":"GET","url":"Patient/1"}},
		{"resource":{"resourceType":"Observation"},"request":{"method":"POST","url":"Observation"}},
		{"request":{"method":"get","url":"Observation?patient=1&_include=Observation:subject:Patient"}},
		{"request":{"method":"DELETE","url":"Condition/9"}}]}`
	got, err := ParseBundle([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := Bundle{Type: "transaction", Entries: []Interaction{
		{Kind: Read, Type: "Patient", ID: "1"},
		{Kind: Create, Type: "Observation"},
		{Kind: SearchType, Type: "Observation", Search: map[string][]string{"patient": {"1"}},
			Includes: []Include{{Source: "Observation", Param: "subject", Target: "Patient"}}},
		{Kind: Delete, Type: "Condition", ID: "9"},
	}, Resources: []json.RawMessage{nil, json.RawMessage(`{"resourceType":"Observation"}`), nil, nil}}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("ParseBundle (-want +got):\n%s", diff)
	}
}

func TestParseBundleRefusesSmuggling(t *testing.T) {
	tests := []struct {
		name, body, wantErr string
	}{
		{"a body that is not JSON", `{`, "reading bundle"},
		{"a body that is not a Bundle", `{"resourceType":"Patient"}`, "not a Bundle"},
		{"a searchset bundle", `{"resourceType":"Bundle","type":"searchset"}`, "not batch or transaction"},
		{"an entry without a request", `{"resourceType":"Bundle","type":"batch","entry":[{}]}`, "has no request"},
		{"an absolute entry URL", `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"https://other/fhir/Patient/1"}}]}`, "not relative"},
		{"an entry URL with a leading slash", `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"/Patient/1"}}]}`, "not relative"},
		{"a dot-dot entry URL", `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient/../Observation/1"}}]}`, "dot segment"},
		{"a nested batch", `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"POST","url":""}}]}`, "nests a batch"},
		{"a create whose resource is of another type", `{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Observation"}}]}`, `sends a "Patient" to Observation`},
		{"a bundle type behind another spelling", `{"resourceType":"Bundle","TYPE":"batch","entry":[]}`, "not batch or transaction"},
		{"a resource type behind another spelling", `{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Patient","ResourceType":"Observation"},"request":{"method":"POST","url":"Observation"}}]}`, `sends a "Patient" to Observation`},
		{"an entry with a bad query", `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient?a=%zz"}}]}`, "parsing"},
	}
	for _, tt := range tests {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			_, err := ParseBundle([]byte(tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// encoding/json matches struct fields case-insensitively, FHIR servers do
// not: an entry must be classified by the members the server acts on.
func TestParseBundleReadsMembersByExactName(t *testing.T) {
	tests := []struct {
		name, entry string
		want        Interaction
	}{
		{"a request beside another spelling of it", `{"request":{"method":"DELETE","url":"Patient/456"},"REQUEST":{"method":"GET","url":"Practitioner/1"}}`,
			Interaction{Kind: Delete, Type: "Patient", ID: "456"}},
		{"a method beside another spelling of it", `{"request":{"method":"DELETE","url":"Patient/456","METHOD":"GET"}}`,
			Interaction{Kind: Delete, Type: "Patient", ID: "456"}},
		{"a url only under another spelling", `{"request":{"method":"GET","URL":"Practitioner/1"}}`,
			Interaction{Kind: SearchSystem}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ParseBundle([]byte(`{"resourceType":"Bundle","type":"batch","entry":[` + tt.entry + `]}`))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]Interaction{tt.want}, b.Entries, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
		})
	}
}
