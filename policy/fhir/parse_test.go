package fhir

import (
	"errors"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseClassifiesEveryInteraction(t *testing.T) {
	tests := []struct {
		name   string
		method string
		path   string
		query  string
		want   Interaction
	}{
		{"GET metadata is capabilities", "GET", "/fhir/metadata", "", Interaction{Kind: Capabilities}},
		{"GET on the base is a system search", "GET", "/fhir", "_lastUpdated=gt2020", Interaction{Kind: SearchSystem, Search: url.Values{"_lastUpdated": {"gt2020"}}}},
		{"POST on the base is a batch", "POST", "/fhir/", "", Interaction{Kind: Batch}},
		{"POST _search on the base is a system search", "POST", "/fhir/_search", "", Interaction{Kind: SearchSystem}},
		{"GET _history on the base is system history", "GET", "/fhir/_history", "", Interaction{Kind: HistorySystem}},
		{"a system operation is an operation", "POST", "/fhir/$export", "", Interaction{Kind: Operation, Operation: "export"}},
		{"GET on a type is a type search", "GET", "/fhir/Observation", "patient=123&_count=10", Interaction{Kind: SearchType, Type: "Observation", Search: url.Values{"patient": {"123"}}}},
		{"HEAD on a type is a type search", "HEAD", "/fhir/Observation", "", Interaction{Kind: SearchType, Type: "Observation"}},
		{"POST _search on a type is a type search", "POST", "/fhir/Observation/_search", "", Interaction{Kind: SearchType, Type: "Observation"}},
		{"POST on a type is a create", "POST", "/fhir/Patient", "", Interaction{Kind: Create, Type: "Patient"}},
		{"PUT on a type with parameters is a conditional update", "PUT", "/fhir/Patient", "identifier=x", Interaction{Kind: Update, Type: "Patient", Conditional: true, Search: url.Values{"identifier": {"x"}}}},
		{"DELETE on a type with parameters is a conditional delete", "DELETE", "/fhir/Patient", "identifier=x", Interaction{Kind: Delete, Type: "Patient", Conditional: true, Search: url.Values{"identifier": {"x"}}}},
		{"PATCH on a type with parameters is a conditional patch", "PATCH", "/fhir/Patient", "identifier=x", Interaction{Kind: Patch, Type: "Patient", Conditional: true, Search: url.Values{"identifier": {"x"}}}},
		{"GET _history on a type is type history", "GET", "/fhir/Patient/_history", "", Interaction{Kind: HistoryType, Type: "Patient"}},
		{"a type operation is an operation", "GET", "/fhir/Observation/$lastn", "", Interaction{Kind: Operation, Type: "Observation", Operation: "lastn"}},
		{"GET on an instance is a read", "GET", "/fhir/Patient/123", "", Interaction{Kind: Read, Type: "Patient", ID: "123"}},
		{"a trailing slash is ignored", "GET", "/fhir/Patient/123/", "", Interaction{Kind: Read, Type: "Patient", ID: "123"}},
		{"PUT on an instance is an update", "PUT", "/fhir/Patient/123", "", Interaction{Kind: Update, Type: "Patient", ID: "123"}},
		{"PATCH on an instance is a patch", "PATCH", "/fhir/Patient/123", "", Interaction{Kind: Patch, Type: "Patient", ID: "123"}},
		{"DELETE on an instance is a delete", "DELETE", "/fhir/Patient/123", "", Interaction{Kind: Delete, Type: "Patient", ID: "123"}},
		{"GET _history on an instance is instance history", "GET", "/fhir/Patient/123/_history", "", Interaction{Kind: HistoryInstance, Type: "Patient", ID: "123"}},
		{"GET _history/vid is a vread", "GET", "/fhir/Patient/123/_history/2", "", Interaction{Kind: VRead, Type: "Patient", ID: "123", Version: "2"}},
		{"an instance operation is an operation", "GET", "/fhir/Patient/123/$everything", "", Interaction{Kind: Operation, Type: "Patient", ID: "123", Operation: "everything"}},
		{"GET in a compartment is a compartment search", "GET", "/fhir/Patient/123/Observation", "code=x", Interaction{Kind: SearchType, Type: "Observation", Compartment: &Reference{"Patient", "123"}, Search: url.Values{"code": {"x"}}}},
		{"a compartment wildcard searches all types", "GET", "/fhir/Patient/123/*", "", Interaction{Kind: SearchType, Type: "*", Compartment: &Reference{"Patient", "123"}}},
		{"POST _search in a compartment is a compartment search", "POST", "/fhir/Encounter/e1/Observation/_search", "", Interaction{Kind: SearchType, Type: "Observation", Compartment: &Reference{"Encounter", "e1"}}},
		{"includes are parsed", "GET", "/fhir/Observation", "_include=Observation:subject:Patient&_revinclude:iterate=Provenance:target", Interaction{Kind: SearchType, Type: "Observation", Includes: []Include{
			{Source: "Observation", Param: "subject", Target: "Patient"}, {Rev: true, Iterate: true, Source: "Provenance", Param: "target"}}}},
		{"an include on a read is kept for checking", "GET", "/fhir/Patient/1", "_revinclude=Observation:subject", Interaction{Kind: Read, Type: "Patient", ID: "1", Includes: []Include{{Rev: true, Source: "Observation", Param: "subject"}}}},
		{"_include=* is a wildcard", "GET", "/fhir/Observation", "_include=*", Interaction{Kind: SearchType, Type: "Observation", Includes: []Include{{Source: "*", Param: "*"}}}},
	}
	p := Parser{Base: "/fhir"}
	sortIncludes := cmpopts.SortSlices(func(a, b Include) bool { return a.String() < b.String() })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Parse(tt.method, tt.path, q)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, sortIncludes, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseRefusesMaliciousAndUndefinedRequests(t *testing.T) {
	tests := []struct {
		name, method, path, query string
		wantErr                   string
	}{
		{"a path outside the base", "GET", "/admin/Patient/1", "", "outside the FHIR base"},
		{"a path that only shares a prefix with the base", "GET", "/fhirx/Patient/1", "", "outside the FHIR base"},
		{"a dot-dot segment", "GET", "/fhir/Patient/1/../2", "", "dot segment"},
		{"a dot segment", "GET", "/fhir/./Patient/1", "", "dot segment"},
		{"an empty segment", "GET", "/fhir/Patient//1", "", "empty or dot segment"},
		{"an encoded slash", "GET", "/fhir/Patient/1%2F..%2F2", "", "escaped characters"},
		{"an encoded letter", "GET", "/fhir/Pati%65nt/1", "", "escaped characters"},
		{"a lower-case type", "GET", "/fhir/patient/1", "", "not a resource type"},
		{"another spelling of Patient", "DELETE", "/fhir/PATIENT/456", "", "not a resource type"},
		{"another spelling of a compartment resource type", "POST", "/fhir/OBSERVATION", "", "not a resource type"},
		{"another spelling of a compartment search's type", "GET", "/fhir/Patient/123/ObServation", "", "not a resource type"},
		{"another spelling of an include's type", "GET", "/fhir/Observation", "_include=Observation:subject:PATIENT", "not a resource type"},
		{"an id with a semicolon", "GET", "/fhir/Patient/1;x=2", "", "not a resource id"},
		{"an id longer than 64 characters", "GET", "/fhir/Patient/" + strings.Repeat("a", 65), "", "not a resource id"},
		{"a compartment on a non-compartment type", "GET", "/fhir/Observation/1/Patient", "", "not a compartment type"},
		{"a POST on an instance", "POST", "/fhir/Patient/1", "", "not allowed on a resource instance"},
		{"a PUT on _history", "PUT", "/fhir/Patient/1/_history/2", "", "not allowed on _history"},
		{"a DELETE on metadata", "DELETE", "/fhir/metadata", "", "not allowed on metadata"},
		{"a method outside FHIR", "OPTIONS", "/fhir/Patient", "", "not part of the FHIR REST API"},
		{"a conditional delete without parameters", "DELETE", "/fhir/Patient", "_count=1", "conditional delete without search parameters"},
		{"segments after a version id", "GET", "/fhir/Patient/1/_history/2/x", "", "segments after a version id"},
		{"an operation with a bad name", "GET", "/fhir/Patient/$ev!l", "", "not a resource id"},
		{"an include without a parameter", "GET", "/fhir/Observation", "_include=Observation", "is not Type:param[:Target]"},
		{"an include with a bad target", "GET", "/fhir/Observation", "_include=Observation:subject:patient", "not a resource type"},
		{"an include with an unknown modifier", "GET", "/fhir/Observation", "_include:evil=Observation:subject", "unknown modifier"},
		{"a revinclude wildcard", "GET", "/fhir/Observation", "_revinclude=*", "not defined"},
	}
	p := Parser{Base: "/fhir/"}
	for _, tt := range tests {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Parse(tt.method, tt.path, q)
			if err == nil {
				t.Fatalf("Parse = %+v, want an error containing %q", got, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse error = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseOutsideBaseIsTyped(t *testing.T) {
	_, err := Parser{Base: "/fhir"}.Parse("GET", "/other", nil)
	if !errors.Is(err, ErrOutsideBase) {
		t.Errorf("err = %v, want ErrOutsideBase", err)
	}
	if _, err := Parse("GET", "/Patient/1", nil); err != nil {
		t.Errorf("root base: %v", err)
	}
}

func TestIncludeReturnedNamesTheAddedType(t *testing.T) {
	tests := []struct {
		name string
		in   Include
		want string
	}{
		{"an include with a target returns the target", Include{Source: "Observation", Param: "subject", Target: "Patient"}, "Patient"},
		{"an include without a target returns no fixed type", Include{Source: "Observation", Param: "subject"}, ""},
		{"a revinclude returns its source", Include{Rev: true, Source: "Provenance", Param: "target"}, "Provenance"},
		{"a wildcard include returns no fixed type", Include{Source: "*", Param: "*"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.Returned(); got != tt.want {
				t.Errorf("Returned() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseRequestReadsMethodPathAndQuery(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		target  string
		want    Interaction
		wantErr bool
	}{
		{"a search keeps its selecting parameters", "GET", "/fhir/Observation?patient=1&_count=5", Interaction{Kind: SearchType, Type: "Observation", Search: url.Values{"patient": {"1"}}}, false},
		{"the method decides the interaction", "DELETE", "/fhir/Patient/1", Interaction{Kind: Delete, Type: "Patient", ID: "1"}, false},
		// An unreadable query must not pass as a search without
		// parameters (a narrowing the gateway could not see).
		{"a malformed query is an error", "GET", "/fhir/Observation?patient=%zz", Interaction{}, true},
		{"an escaped path is an error", "GET", "/fhir/Patient%2F1", Interaction{}, true},
		// A read the server would run as a delete.
		{"a _method parameter is an error", "GET", "/fhir/Patient/1?_method=DELETE", Interaction{}, true},
		{"an X-HTTP-Method-Override header is an error", "GET", "/fhir/Patient/1#X-HTTP-Method-Override", Interaction{}, true},
		{"an X-HTTP-Method header is an error", "GET", "/fhir/Patient/1/_history#X-HTTP-Method", Interaction{}, true},
		{"an X-Method-Override header is an error", "GET", "/fhir/Patient/1#x-method-override", Interaction{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target, hdr, _ := strings.Cut(tt.target, "#")
			r := httptest.NewRequest(tt.method, target, nil)
			if hdr != "" {
				r.Header.Set(hdr, "DELETE")
			}
			got, err := Parser{Base: "/fhir/"}.ParseRequest(r)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseRequest err = %v, wantErr %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ParseRequest (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCleanBase(t *testing.T) {
	for in, want := range map[string]string{"": "", "/": "", "/fhir": "/fhir", "/fhir/": "/fhir", "fhir": "/fhir", "/fhir/R4/": "/fhir/R4"} {
		if got := CleanBase(in); got != want {
			t.Errorf("CleanBase(%q) = %q, want %q", in, got, want)
		}
	}
}
