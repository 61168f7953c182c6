package wasmfilter

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/healthgate/healthgate/policy/pipeline"
)

// Vector is one test of a rule: a security context and the expected
// decision. A vectors file is a JSON array of them:
//
//	[{"name": "nurse reads a patient of her organisation",
//	  "input": {"request": {"method": "GET", "path": "/fhir/Patient"},
//	            "principal": {"claims": {"role": ["NURSE"], "org": ["org-42"]}},
//	            "fhir": {"resource_type": "Patient", "interaction": "search-type", "search": {"organization": ["org-42"]}}},
//	  "want": "allow"}]
type Vector struct {
	Name  string `json:"name"`
	Input Input  `json:"input"`
	// Want is allow, deny or abstain.
	Want string `json:"want"`
	// Status and Code, if set, must match a deny's.
	Status int    `json:"status,omitempty"`
	Code   string `json:"code,omitempty"`
}

// VectorResult is the outcome of one Vector.
type VectorResult struct {
	Vector Vector
	Got    Result
	Err    error
	// Pass reports whether Got matches the vector.
	Pass bool
}

// ParseVectors reads a vectors file strictly: unknown fields, an unnamed
// vector or an unknown decision are errors.
func ParseVectors(b []byte) ([]Vector, error) {
	var vs []Vector
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&vs); err != nil {
		return nil, fmt.Errorf("wasmfilter: parsing test vectors: %w", err)
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("wasmfilter: test vectors: none given")
	}
	for i, v := range vs {
		if v.Name == "" {
			return nil, fmt.Errorf("wasmfilter: test vector %d has no name", i)
		}
		switch v.Want {
		case "allow", "deny", "abstain":
		default:
			return nil, fmt.Errorf("wasmfilter: test vector %q: want %q, expected allow, deny or abstain", v.Name, v.Want)
		}
	}
	return vs, nil
}

// Test runs the vectors through the rule, each with a fresh copy of its
// input.
func (r *Rule) Test(vs []Vector) []VectorResult {
	out := make([]VectorResult, len(vs))
	for i, v := range vs {
		in := v.Input
		in.Version = 1
		got, err := r.Evaluate(&in)
		out[i] = VectorResult{Vector: v, Got: got, Err: err}
		out[i].Pass = err == nil && got.Effect.String() == v.Want &&
			(v.Status == 0 || v.Status == got.DenyStatus()) &&
			(v.Code == "" || v.Code == got.DenyCode())
	}
	return out
}

// CheckVectors runs the vectors and returns an error naming each failure,
// so a rule that fails its own tests is not loaded.
func (r *Rule) CheckVectors(vs []Vector) error {
	var failed []string
	for _, res := range r.Test(vs) {
		if res.Pass {
			continue
		}
		got := res.Got.Effect.String()
		if res.Err != nil {
			got = "error: " + res.Err.Error()
		} else if res.Got.Effect == pipeline.Deny {
			got = fmt.Sprintf("deny %d %s", res.Got.DenyStatus(), res.Got.DenyCode())
		}
		failed = append(failed, fmt.Sprintf("%q: want %s, got %s", res.Vector.Name, res.Vector.Want, got))
	}
	if len(failed) > 0 {
		return fmt.Errorf("wasmfilter: rule %q fails %d of %d test vectors: %v", r.name, len(failed), len(vs), failed)
	}
	return nil
}
