package fhir

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Bundle is a batch or transaction Bundle, classified entry by entry.
type Bundle struct {
	// Type is "batch" or "transaction".
	Type string
	// Entries holds one Interaction per entry, in order.
	Entries []Interaction
	// Resources holds each entry's resource as sent (nil where none), in
	// the order of Entries.
	Resources []json.RawMessage
}

// MaxBundleEntries bounds the entries ParseBundle accepts.
const MaxBundleEntries = 1000

// object is a JSON object whose members are looked up by their exact
// names. encoding/json matches struct fields case-insensitively, and FHIR
// servers do not: a Bundle decoded into structs could show the gateway a
// "REQUEST" the server ignores in favour of the "request" beside it.
type object map[string]json.RawMessage

// member decodes the member name of o into out, if present.
func (o object) member(name string, out any) error {
	raw, ok := o[name]
	if !ok {
		return nil
	}
	return json.Unmarshal(raw, out)
}

// ParseBundle classifies the entries of a batch or transaction Bundle (the
// body of POST [base]). An entry URL must be relative to the base, a
// resource sent with create or update must be of the type its URL names, and
// a Bundle may not nest another batch. Members are matched by their exact
// (case-sensitive) names, as FHIR servers read them.
func ParseBundle(body []byte) (Bundle, error) {
	var (
		b                 object
		resourceType, typ string
		entries           []object
	)
	err := json.Unmarshal(body, &b)
	if err == nil {
		err = errors.Join(b.member("resourceType", &resourceType), b.member("type", &typ), b.member("entry", &entries))
	}
	if err != nil {
		return Bundle{}, fmt.Errorf("fhir: reading bundle: %w", err)
	}
	if resourceType != "Bundle" {
		return Bundle{}, fmt.Errorf("fhir: batch body is a %q, not a Bundle", resourceType)
	}
	if typ != "batch" && typ != "transaction" {
		return Bundle{}, fmt.Errorf("fhir: bundle type %q is not batch or transaction", typ)
	}
	if len(entries) > MaxBundleEntries {
		return Bundle{}, fmt.Errorf("fhir: bundle has %d entries, more than %d", len(entries), MaxBundleEntries)
	}
	out := Bundle{Type: typ, Entries: make([]Interaction, 0, len(entries)), Resources: make([]json.RawMessage, 0, len(entries))}
	for i, e := range entries {
		var (
			request        object
			method, rawURL string
			resource       object
			resourceType   string
		)
		err := e.member("request", &request)
		if err == nil && request != nil {
			err = errors.Join(request.member("method", &method), request.member("url", &rawURL))
		}
		if err == nil {
			err = e.member("resource", &resource)
		}
		if err == nil && resource != nil {
			err = resource.member("resourceType", &resourceType)
		}
		if err != nil {
			return Bundle{}, fmt.Errorf("fhir: bundle entry %d: %w", i, err)
		}
		if request == nil {
			return Bundle{}, fmt.Errorf("fhir: bundle entry %d has no request", i)
		}
		in, err := parseEntry(method, rawURL)
		if err != nil {
			return Bundle{}, fmt.Errorf("fhir: bundle entry %d: %w", i, err)
		}
		if in.Kind == Batch {
			return Bundle{}, fmt.Errorf("fhir: bundle entry %d nests a batch", i)
		}
		if resource != nil && (in.Kind == Create || in.Kind == Update) && resourceType != in.Type {
			return Bundle{}, fmt.Errorf("fhir: bundle entry %d sends a %q to %s", i, resourceType, in.Type)
		}
		var raw json.RawMessage
		if resource != nil {
			raw = e["resource"]
		}
		out.Entries = append(out.Entries, in)
		out.Resources = append(out.Resources, raw)
	}
	return out, nil
}

func parseEntry(method, rawURL string) (Interaction, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return Interaction{}, fmt.Errorf("parsing url: %w", err)
	}
	if u.Scheme != "" || u.Host != "" || u.Opaque != "" || u.Fragment != "" || strings.HasPrefix(rawURL, "/") {
		return Interaction{}, fmt.Errorf("url is not relative to the base")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Interaction{}, fmt.Errorf("parsing query: %w", err)
	}
	return Parse(strings.ToUpper(method), "/"+u.EscapedPath(), q)
}
