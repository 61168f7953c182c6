package pipeline

import (
	"errors"
	"net/http"

	"github.com/healthgate/healthgate/policy/fhir"
)

// errNoHTTP answers FHIR for a Request without an HTTP request (a test's).
var errNoHTTP = errors.New("pipeline: no HTTP request to classify")

// fhirParse classifies a request; tests replace it to count the parses.
var fhirParse = func(p fhir.Parser, r *http.Request) (fhir.Interaction, error) { return p.ParseRequest(r) }

// fhirResult is one base's cached classification.
type fhirResult struct {
	base string // fhir.CleanBase of the base asked for
	in   *fhir.Interaction
	err  error
}

// FHIR returns the request's FHIR REST interaction below base ("/fhir"; ""
// or "/" for the root), classified by fhir.Parser.ParseRequest on first use
// and cached per base, error included. The SMART policy, the rules and the
// audit record all ask, and must see one classification of one request
// rather than parse it three times, possibly three ways.
//
// The error is the parser's (fhir.ErrOutsideBase for a path not below
// base); callers refuse on it or record no FHIR facts, never allow. The
// Interaction is shared by every caller: read it, and copy the struct
// before changing a field. The form body of a POST _search is not read.
//
// Like the rest of Request, FHIR is not safe for concurrent use; a request
// is handled by one goroutine at a time.
func (r *Request) FHIR(base string) (*fhir.Interaction, error) {
	base = fhir.CleanBase(base)
	for _, c := range r.fhir {
		if c.base == base {
			return c.in, c.err
		}
	}
	res := fhirResult{base: base, err: errNoHTTP}
	if r.HTTP != nil {
		var in fhir.Interaction
		if in, res.err = fhirParse(fhir.Parser{Base: base}, r.HTTP); res.err == nil {
			res.in = &in
		}
	}
	r.fhir = append(r.fhir, res)
	return res.in, res.err
}
