package audit

import (
	"github.com/healthgate/healthgate/policy/fhir"
	"github.com/healthgate/healthgate/policy/pipeline"
)

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
