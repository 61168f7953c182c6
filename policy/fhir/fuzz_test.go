package fhir

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzParse checks that no request path or query panics the parser and that
// what it accepts is well formed: a known kind, ids and types of the FHIR
// alphabet, and no dot or escaped segment got through.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"/fhir/Patient/1", "/fhir/Patient/1/_history/2", "/fhir/Patient/1/Observation",
		"/fhir/$export", "/fhir/Patient/../1", "/fhir/Patient/1%2F", "/fhir", "/fhir/Observation/_search"} {
		f.Add("GET", s, "_include=Observation:subject:Patient&code=x")
	}
	f.Add("POST", "/fhir/", "")
	f.Add("DELETE", "/fhir/Patient", "identifier=a")
	kinds := map[Kind]bool{Read: true, VRead: true, Update: true, Patch: true, Delete: true, HistoryInstance: true,
		HistoryType: true, HistorySystem: true, Create: true, SearchType: true, SearchSystem: true,
		Capabilities: true, Batch: true, Operation: true}
	p := Parser{Base: "/fhir"}
	f.Fuzz(func(t *testing.T, method, path, rawQuery string) {
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return
		}
		in, err := p.Parse(method, path, q)
		if err != nil {
			return
		}
		if !kinds[in.Kind] {
			t.Fatalf("unknown kind %q", in.Kind)
		}
		if strings.Contains(path, "%") || strings.Contains(path, "/../") || strings.HasSuffix(path, "/..") {
			t.Fatalf("accepted unsafe path %q", path)
		}
		if in.Type != "" && in.Type != "*" && !validType(in.Type) {
			t.Fatalf("accepted type %q", in.Type)
		}
		if in.ID != "" && !validID(in.ID) {
			t.Fatalf("accepted id %q", in.ID)
		}
		for _, inc := range in.Includes {
			if r := inc.Returned(); r != "" && !validType(r) {
				t.Fatalf("include returns %q", r)
			}
		}
	})
}

// FuzzParseBundle checks that no body panics the bundle parser and that
// every accepted entry is a non-batch interaction.
func FuzzParseBundle(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient/1"}}]}`))
	f.Add([]byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := ParseBundle(body)
		if err != nil {
			return
		}
		for _, e := range b.Entries {
			if e.Kind == Batch || e.Kind == "" {
				t.Fatalf("accepted entry kind %q", e.Kind)
			}
		}
	})
}
