package wasmfilter

import (
	"net/url"

	"github.com/healthgate/healthgate/policy/fhir"
	"github.com/healthgate/healthgate/policy/pipeline"
)

// FHIRFacter returns a function that describes requests below the FHIR base
// path with policy/fhir. A request that is not a valid FHIR REST request gets
// empty facts: rules see no resource type, and rules that need one refuse.
func FHIRFacter(base string) func(*pipeline.Request) FHIRFacts {
	p := fhir.Parser{Base: base}
	return func(req *pipeline.Request) FHIRFacts {
		if req.HTTP == nil {
			return FHIRFacts{}
		}
		q, err := url.ParseQuery(req.HTTP.URL.RawQuery)
		if err != nil {
			return FHIRFacts{}
		}
		in, err := p.Parse(req.HTTP.Method, req.HTTP.URL.EscapedPath(), q)
		if err != nil {
			return FHIRFacts{}
		}
		f := FHIRFacts{ResourceType: in.Type, ID: in.ID, Interaction: string(in.Kind)}
		if c := in.Compartment; c != nil {
			f.Compartment = map[string]string{c.Type: c.ID}
		}
		if len(in.Search) > 0 {
			f.Search = in.Search
		}
		return f
	}
}
