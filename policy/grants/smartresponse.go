package grants

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/healthgate/healthgate/policy/fhir"
	"github.com/healthgate/healthgate/policy/pipeline"
)

// ResponseLimit implements pipeline.ResponseChecker: responses to requests
// granted only through patient/ scopes are checked.
func (s *SMART) ResponseLimit(req *pipeline.Request) int64 {
	if _, ok := s.pending.Load(req); ok {
		return s.MaxResponse
	}
	return 0
}

// CheckResponse implements pipeline.ResponseChecker: every resource in a
// successful response (a Bundle's entries, a Parameters' resources) whose
// type lies in the patient compartment must be in the compartment of the
// patient in context. A response that cannot be read (too long, encoded,
// not JSON) is refused with 502; one leaving the compartment with 403.
func (s *SMART) CheckResponse(_ context.Context, req *pipeline.Request, status int, header http.Header, body []byte, truncated bool) *pipeline.Failure {
	v, ok := s.pending.Load(req)
	if !ok || status < 200 || status > 299 || len(body) == 0 && !truncated {
		return nil
	}
	patient := v.(string)
	unverifiable := func(err error) *pipeline.Failure {
		return pipeline.Refuse(http.StatusBadGateway, ReasonResponseUnverifiable, err)
	}
	if truncated {
		return unverifiable(fmt.Errorf("grants: response longer than %d bytes", s.MaxResponse))
	}
	if enc := header.Get("Content-Encoding"); enc != "" && enc != "identity" {
		return unverifiable(fmt.Errorf("grants: response is %s-encoded", enc))
	}
	var res map[string]any
	if err := json.Unmarshal(body, &res); err != nil || res == nil {
		return unverifiable(fmt.Errorf("grants: response is not a JSON resource: %v", err))
	}
	if err := inCompartment(res, patient, 0); err != nil {
		return pipeline.Forbidden(ReasonResponseOutside, err)
	}
	return nil
}

// maxNesting bounds how deep bundles in bundles are followed.
const maxNesting = 8

// inCompartment walks a resource and the resources it carries.
func inCompartment(res map[string]any, patient string, depth int) error {
	if depth > maxNesting {
		return errors.New("grants: resources nested too deep")
	}
	typ, _ := res["resourceType"].(string)
	var carried []any
	switch typ {
	case "Bundle":
		entries, _ := res["entry"].([]any)
		for _, e := range entries {
			if m, ok := e.(map[string]any); ok {
				carried = append(carried, m["resource"])
			}
		}
	case "Parameters":
		params, _ := res["parameter"].([]any)
		var err error
		if carried, err = parameterResources(params, nil, depth); err != nil {
			return err
		}
	default:
		if fhir.InPatientCompartmentType(typ) && !fhir.InPatientCompartment(res, patient) {
			id, _ := res["id"].(string)
			return fmt.Errorf("grants: response holds %s/%s outside the compartment of the patient in context", typ, id)
		}
		return nil
	}
	for _, c := range carried {
		if c == nil {
			continue
		}
		m, ok := c.(map[string]any)
		if !ok {
			return errors.New("grants: carried resource is not an object")
		}
		if err := inCompartment(m, patient, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// parameterResources collects the resources of Parameters, parts included.
func parameterResources(params []any, out []any, depth int) ([]any, error) {
	if depth > maxNesting {
		return nil, errors.New("grants: parameters nested too deep")
	}
	for _, p := range params {
		m, ok := p.(map[string]any)
		if !ok {
			continue
		}
		if r, ok := m["resource"]; ok {
			out = append(out, r)
		}
		if parts, ok := m["part"].([]any); ok {
			var err error
			if out, err = parameterResources(parts, out, depth+1); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}
