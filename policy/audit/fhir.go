package audit

import (
	"net/http"
	"net/url"

	"github.com/healthgate/healthgate/policy/fhir"
)

// DescribeFHIR returns the FHIR interaction of r as p classifies it, or nil
// when r is not a FHIR REST request below p's base (the record then has no
// FHIR facts rather than guessed ones).
func DescribeFHIR(p fhir.Parser, r *http.Request) *FHIR {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil
	}
	in, err := p.Parse(r.Method, r.URL.EscapedPath(), q)
	if err != nil {
		return nil
	}
	f := &FHIR{Interaction: string(in.Kind), Type: in.Type, ID: in.ID, Operation: in.Operation}
	if in.Compartment != nil {
		f.Compartment = in.Compartment.String()
	}
	return f
}
