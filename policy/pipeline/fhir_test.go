package pipeline

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/healthgate/healthgate/policy/fhir"
)

// countParses makes fhirParse count its calls for the test's duration.
func countParses(t *testing.T) *int {
	t.Helper()
	n, orig := new(int), fhirParse
	fhirParse = func(p fhir.Parser, r *http.Request) (fhir.Interaction, error) {
		*n++
		return orig(p, r)
	}
	t.Cleanup(func() { fhirParse = orig })
	return n
}

func TestRequestFHIRParsesOncePerBase(t *testing.T) {
	type ask struct {
		base     string
		wantKind fhir.Kind // "" when an error is wanted
		wantErr  error     // checked with errors.Is when not nil
	}
	tests := []struct {
		name       string
		method     string
		target     string
		asks       []ask
		wantParses int
	}{
		{"the same base twice is parsed once", "GET", "/fhir/Patient/1",
			[]ask{{base: "/fhir", wantKind: fhir.Read}, {base: "/fhir", wantKind: fhir.Read}}, 1},
		{"spellings of one base share the parse", "GET", "/fhir/Patient/1",
			[]ask{{base: "/fhir", wantKind: fhir.Read}, {base: "/fhir/", wantKind: fhir.Read}, {base: "fhir", wantKind: fhir.Read}}, 1},
		{"the root is \"\" or /", "GET", "/metadata",
			[]ask{{base: "", wantKind: fhir.Capabilities}, {base: "/", wantKind: fhir.Capabilities}}, 1},
		{"an error is cached too", "GET", "/other/Patient/1",
			[]ask{{base: "/fhir", wantErr: fhir.ErrOutsideBase}, {base: "/fhir", wantErr: fhir.ErrOutsideBase}}, 1},
		{"a malformed query is an error, cached", "GET", "/fhir/Patient?a=%zz",
			[]ask{{base: "/fhir"}, {base: "/fhir"}}, 1},
		{"another base is parsed separately", "GET", "/fhir/Patient/1",
			// At the root, /fhir/Patient/1 names the type "fhir": an error.
			[]ask{{base: "/fhir", wantKind: fhir.Read}, {base: ""}, {base: "/fhir", wantKind: fhir.Read}, {base: "/"}}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parses := countParses(t)
			req := NewRequest(httptest.NewRequest(tt.method, tt.target, nil), &Route{}, time.Now())
			// The first answer per base: a later ask must get the
			// very same pointer or error value, not an equal one.
			first := map[string]*fhir.Interaction{}
			firstErr := map[string]error{}
			for i, a := range tt.asks {
				in, err := req.FHIR(a.base)
				key := fhir.CleanBase(a.base)
				if a.wantKind != "" {
					if err != nil || in == nil || in.Kind != a.wantKind {
						t.Fatalf("ask %d FHIR(%q) = %+v, %v; want %s", i, a.base, in, err, a.wantKind)
					}
					if p, ok := first[key]; ok && p != in {
						t.Errorf("ask %d FHIR(%q) returned a new Interaction, not the cached one", i, a.base)
					}
					first[key] = in
					continue
				}
				if err == nil || in != nil {
					t.Fatalf("ask %d FHIR(%q) = %+v, %v; want an error and no interaction", i, a.base, in, err)
				}
				if a.wantErr != nil && !errors.Is(err, a.wantErr) {
					t.Errorf("ask %d FHIR(%q) error %v, want %v", i, a.base, err, a.wantErr)
				}
				if e, ok := firstErr[key]; ok && e != err {
					t.Errorf("ask %d FHIR(%q) returned a new error, not the cached one", i, a.base)
				}
				firstErr[key] = err
			}
			if *parses != tt.wantParses {
				t.Errorf("parsed %d times, want %d", *parses, tt.wantParses)
			}
		})
	}
}

func TestRequestFHIRKeepsTheFirstAnswer(t *testing.T) {
	// The cache is what makes the audit record describe the request the
	// policies decided on: a later change of the URL is not seen.
	req := NewRequest(httptest.NewRequest("GET", "/fhir/Patient/1", nil), &Route{}, time.Now())
	in, err := req.FHIR("/fhir")
	if err != nil {
		t.Fatal(err)
	}
	req.HTTP.URL.Path = "/fhir/Observation/2"
	again, err := req.FHIR("/fhir")
	if err != nil || again != in || again.Type != "Patient" {
		t.Errorf("second FHIR = %+v, %v; want the cached Patient read", again, err)
	}
}

func TestRequestFHIRWithoutHTTPFails(t *testing.T) {
	parses := countParses(t)
	req := &Request{}
	if in, err := req.FHIR("/fhir"); err == nil || in != nil {
		t.Errorf("FHIR without an HTTP request = %+v, %v; want an error", in, err)
	}
	if *parses != 0 {
		t.Errorf("parsed %d times, want 0", *parses)
	}
}
