package wasmfilter

import (
	"cmp"

	"github.com/healthgate/healthgate/policy/pipeline"
)

// FHIRFacter returns a function that describes requests below the FHIR base
// path with the request's shared classification (pipeline.Request.FHIR), so
// the rules see what the other policies and the audit record see, parsed
// once. base "" means the handler's base (req.FHIRBase), and no FHIR facts
// when that is unset too; "/" is the root. A request that is not a valid
// FHIR REST request gets empty facts: rules see no resource type, and rules
// that need one refuse.
func FHIRFacter(base string) func(*pipeline.Request) FHIRFacts {
	return func(req *pipeline.Request) FHIRFacts {
		b := cmp.Or(base, req.FHIRBase)
		if b == "" {
			return FHIRFacts{}
		}
		in, err := req.FHIR(b)
		if err != nil {
			return FHIRFacts{}
		}
		f := FHIRFacts{ResourceType: in.Type, ID: in.ID, Interaction: string(in.Kind)}
		if c := in.Compartment; c != nil {
			f.Compartment = map[string]string{c.Type: c.ID}
		}
		if len(in.Search) > 0 {
			// Rules get the shared map: the Input is encoded, never
			// changed, so they cannot alter what others read.
			f.Search = in.Search
		}
		return f
	}
}
