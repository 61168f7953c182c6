package fhir

import (
	"encoding/json"
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

type bundleJSON struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Entry        []struct {
		Resource json.RawMessage `json:"resource"`
		Request  *struct {
			Method string `json:"method"`
			URL    string `json:"url"`
		} `json:"request"`
	} `json:"entry"`
}

// ParseBundle classifies the entries of a batch or transaction Bundle (the
// body of POST [base]). An entry URL must be relative to the base, a
// resource sent with create or update must be of the type its URL names, and
// a Bundle may not nest another batch.
func ParseBundle(body []byte) (Bundle, error) {
	var b bundleJSON
	if err := json.Unmarshal(body, &b); err != nil {
		return Bundle{}, fmt.Errorf("fhir: reading bundle: %w", err)
	}
	if b.ResourceType != "Bundle" {
		return Bundle{}, fmt.Errorf("fhir: batch body is a %q, not a Bundle", b.ResourceType)
	}
	if b.Type != "batch" && b.Type != "transaction" {
		return Bundle{}, fmt.Errorf("fhir: bundle type %q is not batch or transaction", b.Type)
	}
	if len(b.Entry) > MaxBundleEntries {
		return Bundle{}, fmt.Errorf("fhir: bundle has %d entries, more than %d", len(b.Entry), MaxBundleEntries)
	}
	out := Bundle{Type: b.Type, Entries: make([]Interaction, 0, len(b.Entry)), Resources: make([]json.RawMessage, 0, len(b.Entry))}
	for i, e := range b.Entry {
		if e.Request == nil {
			return Bundle{}, fmt.Errorf("fhir: bundle entry %d has no request", i)
		}
		in, err := parseEntry(e.Request.Method, e.Request.URL)
		if err != nil {
			return Bundle{}, fmt.Errorf("fhir: bundle entry %d: %w", i, err)
		}
		if in.Kind == Batch {
			return Bundle{}, fmt.Errorf("fhir: bundle entry %d nests a batch", i)
		}
		var res *struct {
			ResourceType string `json:"resourceType"`
		}
		if len(e.Resource) > 0 {
			if err := json.Unmarshal(e.Resource, &res); err != nil {
				return Bundle{}, fmt.Errorf("fhir: bundle entry %d: reading resource: %w", i, err)
			}
		}
		if res != nil && (in.Kind == Create || in.Kind == Update) && res.ResourceType != in.Type {
			return Bundle{}, fmt.Errorf("fhir: bundle entry %d sends a %q to %s", i, res.ResourceType, in.Type)
		}
		if res == nil {
			e.Resource = nil
		}
		out.Entries = append(out.Entries, in)
		out.Resources = append(out.Resources, e.Resource)
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
