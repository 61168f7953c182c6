package fhir

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// ErrOutsideBase is returned for a path that is not below the FHIR base.
var ErrOutsideBase = errors.New("fhir: path is outside the FHIR base")

// Parser classifies requests below one FHIR base path.
type Parser struct {
	// Base is the path of the FHIR base ("/fhir", "/fhir/R4"). Default:
	// "" (the root).
	Base string
}

// Parse classifies a request below the root. See Parser.Parse.
func Parse(method, path string, query url.Values) (Interaction, error) {
	return Parser{}.Parse(method, path, query)
}

// Parse classifies a request. path is the escaped request path
// (url.URL.EscapedPath): a percent escape is refused, since no FHIR type, id
// or operation needs one and decoding it (%2F) could make the server see
// other segments than the gateway did. query is the parsed query (from
// url.ParseQuery, whose error the caller must not ignore).
//
// HEAD is classified as GET. A _method parameter, which some frameworks
// take as the method, is refused. For POST [base]/Type/_search, the caller adds
// the form body's parameters to query to have them classified.
func (p Parser) Parse(method, path string, query url.Values) (Interaction, error) {
	segs, err := p.segments(path)
	if err != nil {
		return Interaction{}, err
	}
	if method == http.MethodHead {
		method = http.MethodGet
	}
	switch method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return Interaction{}, fmt.Errorf("fhir: method %q is not part of the FHIR REST API", method)
	}
	if query.Has("_method") {
		return Interaction{}, errors.New("fhir: _method overrides the request method")
	}
	search, incs, err := splitQuery(query)
	if err != nil {
		return Interaction{}, err
	}
	in, err := classify(method, segs)
	if err != nil {
		return Interaction{}, err
	}
	if in.Kind == SearchType || in.Kind == SearchSystem || in.Conditional {
		in.Search, in.Includes = search, incs
	} else if len(incs) > 0 {
		// _include on a read is ignored by servers, but there is no
		// reason to let it through unchecked.
		in.Includes = incs
	}
	if in.Conditional && len(search) == 0 {
		return Interaction{}, fmt.Errorf("fhir: conditional %s without search parameters", in.Kind)
	}
	return in, nil
}

// ParseRequest classifies r by its method, escaped path and query: Parse
// with the query parsed, whose error it returns rather than ignores (a
// query the gateway cannot read must not pass as one without parameters).
// The form body of a POST _search is not read.
func (p Parser) ParseRequest(r *http.Request) (Interaction, error) {
	for _, h := range overrideHeaders {
		if _, ok := r.Header[h]; ok {
			return Interaction{}, fmt.Errorf("fhir: method override header %s", h)
		}
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return Interaction{}, fmt.Errorf("fhir: parsing query: %w", err)
	}
	return p.Parse(r.Method, r.URL.EscapedPath(), q)
}

// overrideHeaders make some servers and frameworks (JAX-RS filters,
// ASP.NET, Express) take another method than the request line's: a GET
// that the server runs as a DELETE. No FHIR client needs them through the
// gateway, so a request carrying one is not classified (canonical names,
// as net/http keys them).
var overrideHeaders = []string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}

// CleanBase returns base as a Parser uses it: with one leading and no
// trailing slash, "" for the root ("", "/"). Two bases classify every
// request alike exactly when their CleanBase is equal, so callers that cache
// interactions by base key them with it.
func CleanBase(base string) string {
	base = strings.TrimSuffix(base, "/")
	if base != "" && !strings.HasPrefix(base, "/") {
		base = "/" + base
	}
	return base
}

// segments returns the path below the base, split and checked.
func (p Parser) segments(path string) ([]string, error) {
	base := CleanBase(p.Base)
	rest, ok := strings.CutPrefix(path, base)
	if !ok || (rest != "" && rest[0] != '/') {
		return nil, ErrOutsideBase
	}
	if strings.ContainsAny(rest, "%?#") {
		return nil, fmt.Errorf("fhir: escaped characters in path")
	}
	rest = strings.TrimPrefix(rest, "/")
	rest = strings.TrimSuffix(rest, "/")
	if rest == "" {
		return nil, nil
	}
	segs := strings.Split(rest, "/")
	for _, s := range segs {
		if s == "" || s == "." || s == ".." {
			return nil, fmt.Errorf("fhir: empty or dot segment in path")
		}
	}
	return segs, nil
}

func classify(method string, segs []string) (Interaction, error) {
	get, post := method == http.MethodGet, method == http.MethodPost
	n := len(segs)
	if n == 0 {
		switch {
		case get:
			return Interaction{Kind: SearchSystem}, nil
		case post:
			return Interaction{Kind: Batch}, nil
		}
		return Interaction{}, methodError(method, "the base")
	}
	first := segs[0]
	if op, ok := operation(first); ok {
		if n != 1 {
			return Interaction{}, fmt.Errorf("fhir: segments after a system operation")
		}
		if !get && !post {
			return Interaction{}, methodError(method, "an operation")
		}
		return Interaction{Kind: Operation, Operation: op}, nil
	}
	switch first {
	case "metadata", "_history", "_search":
		if n != 1 {
			return Interaction{}, fmt.Errorf("fhir: segments after %s", first)
		}
		switch {
		case first == "metadata" && get:
			return Interaction{Kind: Capabilities}, nil
		case first == "_history" && get:
			return Interaction{Kind: HistorySystem}, nil
		case first == "_search" && (get || post):
			return Interaction{Kind: SearchSystem}, nil
		}
		return Interaction{}, methodError(method, first)
	}
	if !validType(first) {
		return Interaction{}, fmt.Errorf("fhir: %q is not a resource type", first)
	}
	typ := first
	if n == 1 {
		switch method {
		case http.MethodGet:
			return Interaction{Kind: SearchType, Type: typ}, nil
		case http.MethodPost:
			return Interaction{Kind: Create, Type: typ}, nil
		case http.MethodPut:
			return Interaction{Kind: Update, Type: typ, Conditional: true}, nil
		case http.MethodPatch:
			return Interaction{Kind: Patch, Type: typ, Conditional: true}, nil
		default:
			return Interaction{Kind: Delete, Type: typ, Conditional: true}, nil
		}
	}
	second := segs[1]
	if n == 2 {
		if op, ok := operation(second); ok {
			if !get && !post {
				return Interaction{}, methodError(method, "an operation")
			}
			return Interaction{Kind: Operation, Type: typ, Operation: op}, nil
		}
		switch second {
		case "_history":
			if !get {
				return Interaction{}, methodError(method, "_history")
			}
			return Interaction{Kind: HistoryType, Type: typ}, nil
		case "_search":
			if !get && !post {
				return Interaction{}, methodError(method, "_search")
			}
			return Interaction{Kind: SearchType, Type: typ}, nil
		}
		if !validID(second) {
			return Interaction{}, fmt.Errorf("fhir: %q is not a resource id", second)
		}
		switch method {
		case http.MethodGet:
			return Interaction{Kind: Read, Type: typ, ID: second}, nil
		case http.MethodPut:
			return Interaction{Kind: Update, Type: typ, ID: second}, nil
		case http.MethodPatch:
			return Interaction{Kind: Patch, Type: typ, ID: second}, nil
		case http.MethodDelete:
			return Interaction{Kind: Delete, Type: typ, ID: second}, nil
		}
		return Interaction{}, methodError(method, "a resource instance")
	}
	if !validID(second) {
		return Interaction{}, fmt.Errorf("fhir: %q is not a resource id", second)
	}
	third := segs[2]
	if op, ok := operation(third); ok {
		if n != 3 {
			return Interaction{}, fmt.Errorf("fhir: segments after an instance operation")
		}
		if !get && !post {
			return Interaction{}, methodError(method, "an operation")
		}
		return Interaction{Kind: Operation, Type: typ, ID: second, Operation: op}, nil
	}
	if third == "_history" {
		if !get {
			return Interaction{}, methodError(method, "_history")
		}
		switch n {
		case 3:
			return Interaction{Kind: HistoryInstance, Type: typ, ID: second}, nil
		case 4:
			if !validID(segs[3]) {
				return Interaction{}, fmt.Errorf("fhir: %q is not a version id", segs[3])
			}
			return Interaction{Kind: VRead, Type: typ, ID: second, Version: segs[3]}, nil
		}
		return Interaction{}, fmt.Errorf("fhir: segments after a version id")
	}
	// [base]/Compartment/id/Type[/_search]
	if !compartmentTypes[typ] {
		return Interaction{}, fmt.Errorf("fhir: %q is not a compartment type", typ)
	}
	if third != "*" && !validType(third) {
		return Interaction{}, fmt.Errorf("fhir: %q is not a resource type", third)
	}
	switch {
	case n == 3 && get, n == 4 && segs[3] == "_search" && (get || post):
		return Interaction{Kind: SearchType, Type: third, Compartment: &Reference{Type: typ, ID: second}}, nil
	case n == 3 || n == 4 && segs[3] == "_search":
		return Interaction{}, methodError(method, "a compartment search")
	}
	return Interaction{}, fmt.Errorf("fhir: segments after a compartment search")
}

// compartmentTypes are the types that define compartments (FHIR R4
// compartmentdefinition.html).
var compartmentTypes = map[string]bool{
	"Patient": true, "Encounter": true, "RelatedPerson": true, "Practitioner": true, "Device": true,
}

func methodError(method, what string) error {
	return fmt.Errorf("fhir: method %s is not allowed on %s", method, what)
}

func operation(seg string) (string, bool) {
	name, ok := strings.CutPrefix(seg, "$")
	if !ok {
		return "", false
	}
	return name, validName(name)
}

// validType accepts a FHIR resource type name: an upper-case letter, then
// letters; 64 characters at most. Another spelling of a compartment type
// (PATIENT, OBservation) is refused: a server that looks types up
// case-insensitively would act on the compartment type, which the
// gateway's compartment checks only know by its exact name.
func validType(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	if _, ok := patientCompartment[s]; ok || compartmentTypes[s] {
		return true
	}
	_, folded := foldedCompartmentTypes[strings.ToLower(s)]
	return !folded
}

// foldedCompartmentTypes holds the lower-cased names of the types that
// define or belong to a compartment.
var foldedCompartmentTypes = func() map[string]struct{} {
	m := make(map[string]struct{}, len(patientCompartment)+len(compartmentTypes))
	for t := range patientCompartment {
		m[strings.ToLower(t)] = struct{}{}
	}
	for t := range compartmentTypes {
		m[strings.ToLower(t)] = struct{}{}
	}
	return m
}()

// ValidID reports whether s is a FHIR id: [A-Za-z0-9\-\.]{1,64}.
func ValidID(s string) bool { return validID(s) }

func validID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// validName accepts a search parameter or operation name.
func validName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
