package audit

import (
	"net/http"

	"github.com/healthgate/healthgate/policy/fhir"
	"github.com/healthgate/healthgate/policy/pipeline"
)

// DescribeFHIR returns the FHIR interaction of r as p classifies it, or nil
// when r is not a FHIR REST request below p's base (the record then has no
// FHIR facts rather than guessed ones). The handler uses DescribeRequest,
// which shares the classification the policies made.
func DescribeFHIR(p fhir.Parser, r *http.Request) *FHIR {
	in, err := p.ParseRequest(r)
	if err != nil {
		return nil
	}
	return describe(&in)
}

// DescribeRequest returns the FHIR interaction of req below base from
// req.FHIR, so the record names what the policies decided on without a
// second parse. It is nil when base is "" (no FHIR base configured) or req
// is not a FHIR REST request below it.
func DescribeRequest(req *pipeline.Request, base string) *FHIR {
	if base == "" {
		return nil
	}
	in, err := req.FHIR(base)
	if err != nil {
		return nil
	}
	return describe(in)
}

func describe(in *fhir.Interaction) *FHIR {
	f := &FHIR{Interaction: string(in.Kind), Type: in.Type, ID: in.ID, Operation: in.Operation}
	if in.Compartment != nil {
		f.Compartment = in.Compartment.String()
	}
	return f
}
