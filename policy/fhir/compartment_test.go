package fhir

import (
	"encoding/json"
	"testing"
)

func TestInPatientCompartment(t *testing.T) {
	tests := []struct {
		name, resource string
		want           bool
	}{
		{"the patient itself is in its compartment", `{"resourceType":"Patient","id":"123"}`, true},
		{"another patient is not", `{"resourceType":"Patient","id":"456"}`, false},
		{"an observation about the patient is", `{"resourceType":"Observation","subject":{"reference":"Patient/123"}}`, true},
		{"an observation with an absolute reference is", `{"resourceType":"Observation","subject":{"reference":"https://fhir.example/fhir/Patient/123"}}`, true},
		{"an observation with a versioned reference is", `{"resourceType":"Observation","subject":{"reference":"Patient/123/_history/4"}}`, true},
		{"an observation about another patient is not", `{"resourceType":"Observation","subject":{"reference":"Patient/456"}}`, false},
		{"an observation whose id-suffix merely matches is not", `{"resourceType":"Observation","subject":{"reference":"Patient/0123"}}`, false},
		{"a relative reference to a look-alike type is not", `{"resourceType":"Observation","subject":{"reference":"XPatient/123"}}`, false},
		{"an observation performed by the patient is", `{"resourceType":"Observation","subject":{"reference":"Patient/456"},"performer":[{"reference":"Practitioner/1"},{"reference":"Patient/123"}]}`, true},
		{"a procedure reached through performer.actor is", `{"resourceType":"Procedure","performer":[{"actor":{"reference":"Patient/123"}}]}`, true},
		{"a reference in an element outside the compartment definition is not", `{"resourceType":"Observation","focus":[{"reference":"Patient/123"}]}`, false},
		{"a practitioner is not in any patient compartment", `{"resourceType":"Practitioner","id":"123"}`, false},
		{"a resource without a type is not", `{"subject":{"reference":"Patient/123"}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r map[string]any
			if err := json.Unmarshal([]byte(tt.resource), &r); err != nil {
				t.Fatal(err)
			}
			if got := InPatientCompartment(r, "123"); got != tt.want {
				t.Errorf("InPatientCompartment = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestInOnlyPatientCompartment(t *testing.T) {
	tests := []struct {
		name, resource string
		want           bool
	}{
		{"an observation about the patient is", `{"resourceType":"Observation","subject":{"reference":"Patient/123"},"performer":[{"reference":"Practitioner/1"}]}`, true},
		{"an observation about another patient, performed by the patient, is not", `{"resourceType":"Observation","subject":{"reference":"Patient/456"},"performer":[{"reference":"Patient/123"}]}`, false},
		{"an absolute reference to another patient counts", `{"resourceType":"Observation","subject":{"reference":"Patient/123"},"performer":[{"reference":"https://fhir.example/fhir/Patient/456/_history/2"}]}`, false},
		{"a look-alike type is no other patient", `{"resourceType":"Observation","subject":{"reference":"Patient/123"},"performer":[{"reference":"XPatient/456"}]}`, true},
		{"a patient linked to another patient is not", `{"resourceType":"Patient","id":"123","link":[{"other":{"reference":"Patient/456"}}]}`, false},
		{"a resource outside the compartment is not", `{"resourceType":"Observation","subject":{"reference":"Patient/456"}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r map[string]any
			if err := json.Unmarshal([]byte(tt.resource), &r); err != nil {
				t.Fatal(err)
			}
			if got := InOnlyPatientCompartment(r, "123"); got != tt.want {
				t.Errorf("InOnlyPatientCompartment = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPatientSearchParams(t *testing.T) {
	if got := PatientSearchParams("Practitioner"); len(got) != 0 {
		t.Errorf("Practitioner params = %v, want none", got)
	}
	if !InPatientCompartmentType("Observation") || InPatientCompartmentType("Medication") {
		t.Error("compartment types are wrong")
	}
}
