package grants

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/healthgate/healthgate/policy/fhir"
	"github.com/healthgate/healthgate/policy/pipeline"
)

// SMART enforces SMART App Launch v1 and v2 scopes on FHIR REST requests:
// some granted scope must cover each resource type and interaction the
// request touches (its _include / _revinclude targets and _has types too,
// and every entry of a batch). A scope with v2 search constraints
// (?category=…) only admits searches that carry them. Under patient/ scopes
// the request must stay in the compartment of the token's patient: a
// Patient id must be that patient's, searches must be narrowed to it,
// created and updated resources must belong to it, and what a read or
// search returns is checked on the response body (CheckResponse).
type SMART struct {
	// Base is the FHIR base path ("/" for the root). Default: the
	// request's FHIRBase (the handler's), else the root.
	Base string
	// Operations lists the $operations allowed (names without "$") and
	// the permissions each needs on its resource type ("*" at system
	// level). An operation not listed is refused.
	Operations map[string]Perm
	// MaxBody bounds the request bodies read (batches, resources written
	// under patient/ scopes, POST _search forms), in bytes. Default:
	// DefaultMaxBody (1 MiB).
	MaxBody int64
	// MaxResponse bounds the response bodies checked under patient/
	// scopes, in bytes. A longer response is refused (502). Default: 8 MiB.
	MaxResponse int64
	// Claims names the token claims read (the patient).
	Claims ClaimNames

	// pending holds the patient whose compartment a request's response
	// must stay in, from Decide until the request finishes.
	pending sync.Map // *pipeline.Request → string
}

// DefaultMaxResponse is the default of SMART.MaxResponse: 8 MiB.
const DefaultMaxResponse int64 = 8 << 20

// Provision fills defaults.
func (s *SMART) Provision() error {
	if s.MaxBody <= 0 {
		s.MaxBody = DefaultMaxBody
	}
	if s.MaxResponse <= 0 {
		s.MaxResponse = DefaultMaxResponse
	}
	for op, p := range s.Operations {
		if op == "" || strings.HasPrefix(op, "$") || p == 0 {
			return fmt.Errorf("grants: operation %q needs a name without '$' and permissions", op)
		}
	}
	s.Claims = s.Claims.WithDefaults()
	return nil
}

// level is how far a set of scopes grants one type and permission.
type level uint8

const (
	levelNone        level = iota
	levelConstrained       // only through v2 scopes with search constraints
	levelPatient           // through patient/ scopes: the compartment applies
	levelFull              // through user/ or system/ scopes
)

// needs says what more a granted interaction must pass.
type needs struct {
	// response: the response body must stay in the patient's compartment.
	response bool
	// body: the request's resource must be in the patient's compartment.
	body bool
}

// evaluation holds one request's scopes and patient.
type evaluation struct {
	s       *SMART
	scopes  []Scope
	patient string // the launch-context patient id, or ""
	grounds []string
}

// Decide implements pipeline.Policy.
func (s *SMART) Decide(_ context.Context, req *pipeline.Request) pipeline.Decision {
	in, f := s.classify(req)
	if f != nil {
		return pipeline.Denied(f)
	}
	if in.Kind == fhir.Capabilities {
		return pipeline.Abstained()
	}
	e := &evaluation{s: s, scopes: ParseScopes(req.Principal.Scopes), patient: s.patient(req)}
	var n needs
	if in.Kind == fhir.Batch {
		n, f = e.batch(req)
	} else {
		n, f = e.interaction(in)
		if f == nil && n.body {
			f = e.requestBody(req, in)
		}
	}
	if f == nil && n.response && req.HTTP.Method == http.MethodHead {
		// The answer carries no body to check, while its status and
		// headers (ETag, Last-Modified) still tell what exists.
		f = pipeline.Forbidden(ReasonCompartmentUnverified, errors.New("grants: a HEAD request's answer cannot be checked against the patient in context"))
	}
	if f != nil {
		return pipeline.Denied(f, e.grounds...)
	}
	if n.response {
		s.pending.Store(req, e.patient)
		req.Defer(func() { s.pending.Delete(req) })
	}
	return pipeline.Allowed(e.grounds...)
}

// classify returns the request's interaction: the shared one of
// req.FHIR, or, for a POST search, one parsed here with the form body's
// parameters added to the query (they narrow the search and may carry
// _include, and the shared classification sees the URL's only).
func (s *SMART) classify(req *pipeline.Request) (fhir.Interaction, *pipeline.Failure) {
	r := req.HTTP
	base := cmp.Or(s.Base, req.FHIRBase)
	var in fhir.Interaction
	shared, err := req.FHIR(base)
	if err == nil {
		in = *shared // a copy: the If-None-Exist mark below is ours
		if r.Method == http.MethodPost && in.IsSearch() {
			var f *pipeline.Failure
			if in, f, err = s.classifySearchForm(req, base); f != nil {
				return in, f
			}
		}
	}
	switch {
	case errors.Is(err, fhir.ErrOutsideBase):
		return in, pipeline.Forbidden(ReasonNotFHIR, err)
	case err != nil:
		return in, pipeline.BadRequest(ReasonFHIRMalformed, err)
	}
	if in.Kind == fhir.Create && r.Header.Get("If-None-Exist") != "" {
		// A conditional create searches first: what it finds is told
		// by its answer, so it needs the search permission too.
		in.Conditional = true
	}
	return in, nil
}

// classifySearchForm parses a POST _search with its form's parameters: a
// failure reading the form, or the parser's error.
func (s *SMART) classifySearchForm(req *pipeline.Request, base string) (fhir.Interaction, *pipeline.Failure, error) {
	r := req.HTTP
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return fhir.Interaction{}, pipeline.BadRequest(ReasonFHIRMalformed, fmt.Errorf("grants: parsing query: %w", err)), nil
	}
	form, err := readForm(req, s.MaxBody)
	switch {
	case errors.Is(err, errNotForm) && r.ContentLength == 0:
	case err != nil:
		var f *pipeline.Failure
		if errors.As(err, &f) {
			return fhir.Interaction{}, f, nil
		}
		return fhir.Interaction{}, pipeline.BadRequest(ReasonFHIRMalformed, err), nil
	default:
		for k, vs := range form {
			query[k] = append(query[k], vs...)
		}
	}
	in, err := fhir.Parser{Base: base}.Parse(r.Method, r.URL.EscapedPath(), query)
	return in, nil, err
}

// patient returns the launch-context patient id of the token, or "".
func (s *SMART) patient(req *pipeline.Request) string {
	v := firstClaim(&req.Principal, s.Claims.Patient)
	v = strings.TrimPrefix(v, "Patient/")
	if !fhir.ValidID(v) {
		return ""
	}
	return v
}

// perms returns what an interaction needs on its type.
func (e *evaluation) perms(in fhir.Interaction) (Perm, *pipeline.Failure) {
	var p Perm
	switch in.Kind {
	case fhir.Read, fhir.VRead, fhir.HistoryInstance:
		p = PermRead
	case fhir.SearchType, fhir.SearchSystem, fhir.HistoryType, fhir.HistorySystem:
		p = PermSearch
	case fhir.Create:
		p = PermCreate
	case fhir.Update, fhir.Patch:
		p = PermUpdate
	case fhir.Delete:
		p = PermDelete
	case fhir.Operation:
		op, ok := e.s.Operations[in.Operation]
		if !ok {
			return 0, pipeline.Forbidden(ReasonOperationNotAllowed, fmt.Errorf("grants: operation $%s is not allowed", in.Operation))
		}
		p = op
	default:
		return 0, pipeline.BadRequest(ReasonFHIRMalformed, fmt.Errorf("grants: interaction %q has no SMART permission", in.Kind))
	}
	if in.Conditional {
		// A conditional write searches first; its outcome tells what exists.
		p |= PermSearch
	}
	return p, nil
}

// types returns the resource types an interaction acts on: its type, the
// _type list of a system search, or "*" (every type) at system level.
func types(in fhir.Interaction) []string {
	if in.Type != "" {
		return []string{in.Type}
	}
	if ts := in.Search["_type"]; in.Kind == fhir.SearchSystem && len(ts) > 0 {
		var out []string
		for _, v := range ts {
			out = append(out, strings.Split(v, ",")...)
		}
		return out
	}
	return []string{"*"}
}

// cover returns how far the scopes grant perm on typ, and the constrained
// scopes that grant it when nothing better does.
func (e *evaluation) cover(typ string, perm Perm) (level, []Scope) {
	best := levelNone
	var constrained []Scope
	for _, sc := range e.scopes {
		if sc.Perms&perm != perm || sc.Type != "*" && sc.Type != typ {
			continue
		}
		l := levelFull
		switch {
		case sc.Constraints != nil:
			l = levelConstrained
			constrained = append(constrained, sc)
		case sc.Context == ContextPatient:
			l = levelPatient
		}
		best = max(best, l)
	}
	return best, constrained
}

// interaction checks one interaction against the scopes.
func (e *evaluation) interaction(in fhir.Interaction) (needs, *pipeline.Failure) {
	var n needs
	perm, f := e.perms(in)
	if f != nil {
		return n, f
	}
	patientOnly := false
	for _, typ := range types(in) {
		for bit := PermCreate; bit <= PermSearch; bit <<= 1 {
			if perm&bit == 0 {
				continue
			}
			l, constrained := e.cover(typ, bit)
			switch l {
			case levelNone:
				return n, e.missing(ReasonScopeMissing, typ, perm, in)
			case levelConstrained:
				sc, ok := satisfied(in, constrained)
				if !ok {
					return n, pipeline.Forbidden(ReasonConstraintUnverified,
						fmt.Errorf("grants: %s on %s is only granted with search constraints the request does not carry", bit, typ))
				}
				e.ground(sc.Raw)
				patientOnly = patientOnly || sc.Context == ContextPatient
			case levelPatient:
				patientOnly = true
				e.groundBest(typ, bit, ContextPatient)
			case levelFull:
				e.groundBest(typ, bit, "")
			}
		}
	}
	for _, inc := range in.Includes {
		typ := cmp.Or(inc.Returned(), "*")
		lr, _ := e.cover(typ, PermRead)
		ls, _ := e.cover(typ, PermSearch)
		l := max(lr, ls)
		if l < levelPatient {
			return n, e.missing(ReasonIncludeNotAllowed, typ, PermSearch, in)
		}
		patientOnly = patientOnly || l == levelPatient
	}
	for key := range in.Search {
		// _has:Type:ref:_has:Type2:ref2:param searches every type named.
		for rest, ok := strings.CutPrefix(key, "_has:"); ok; rest, ok = strings.CutPrefix(rest, "_has:") {
			var typ string
			typ, rest, _ = strings.Cut(rest, ":")
			if l, _ := e.cover(typ, PermSearch); l < levelPatient {
				return n, e.missing(ReasonIncludeNotAllowed, typ, PermSearch, in)
			}
			_, rest, _ = strings.Cut(rest, ":") // the reference parameter
		}
	}
	if !patientOnly {
		return n, nil
	}
	return e.compartment(in)
}

// satisfied returns a constrained scope whose constraints the search
// carries: each parameter with the same value, not widened by a comma.
func satisfied(in fhir.Interaction, scopes []Scope) (Scope, bool) {
	if !in.IsSearch() {
		return Scope{}, false
	}
	for _, sc := range scopes {
		ok := true
		for k, want := range sc.Constraints {
			for _, w := range want {
				if !slices.Contains(in.Search[k], w) {
					ok = false
				}
			}
		}
		if ok {
			return sc, true
		}
	}
	return Scope{}, false
}

// compartment keeps an interaction granted only through patient/ scopes in
// the launch-context patient's compartment.
func (e *evaluation) compartment(in fhir.Interaction) (needs, *pipeline.Failure) {
	p := e.patient
	if p == "" {
		return needs{}, pipeline.Forbidden(ReasonPatientContextMissing, errors.New("grants: patient/ scope without a patient in context"))
	}
	escape := func() (needs, *pipeline.Failure) {
		return needs{}, pipeline.Forbidden(ReasonCompartmentEscape, fmt.Errorf("grants: %s %s/%s is outside the compartment of the patient in context", in.Kind, in.Type, in.ID))
	}
	notNarrowed := func() (needs, *pipeline.Failure) {
		return needs{}, pipeline.Forbidden(ReasonSearchNotNarrowed, fmt.Errorf("grants: %s on %q is not narrowed to the patient in context", in.Kind, in.Type))
	}
	inCompartment := in.Type == "" || in.Type == "*" || fhir.InPatientCompartmentType(in.Type)
	if c := in.Compartment; c != nil && c.Type == "Patient" && c.ID != p {
		return escape()
	}
	if in.Type == "Patient" && in.ID != "" && in.ID != p {
		return escape()
	}
	switch in.Kind {
	case fhir.Read, fhir.VRead, fhir.HistoryInstance:
		return needs{response: true}, nil
	case fhir.Operation:
		if in.ID == "" && inCompartment {
			return notNarrowed()
		}
		if inCompartment && in.Type != "Patient" && e.s.Operations[in.Operation]&(PermCreate|PermUpdate|PermDelete) != 0 {
			// A writing operation ($meta-add) on a compartment
			// resource by id changes what the response check
			// only sees afterwards, if at all.
			return needs{}, pipeline.Forbidden(ReasonCompartmentUnverified,
				fmt.Errorf("grants: writing operation $%s on %s/%s cannot be checked against the patient in context", in.Operation, in.Type, in.ID))
		}
		return needs{response: true}, nil
	case fhir.Create:
		return needs{body: inCompartment}, nil
	case fhir.Update, fhir.Patch, fhir.Delete:
		switch {
		case !inCompartment:
			return needs{}, nil
		case in.Conditional && !narrowed(in, p):
			return notNarrowed()
		case in.Kind == fhir.Update:
			return needs{body: true}, nil
		case in.Conditional, in.Type == "Patient":
			return needs{}, nil
		}
		return needs{}, pipeline.Forbidden(ReasonCompartmentUnverified,
			fmt.Errorf("grants: %s of %s/%s cannot be checked against the patient in context", in.Kind, in.Type, in.ID))
	case fhir.SearchType, fhir.SearchSystem:
		if inCompartment && !narrowed(in, p) {
			return notNarrowed()
		}
		return needs{response: true}, nil
	case fhir.HistoryType, fhir.HistorySystem:
		if inCompartment {
			return notNarrowed()
		}
		return needs{response: true}, nil
	}
	return needs{}, pipeline.Forbidden(ReasonCompartmentUnverified, fmt.Errorf("grants: %s under a patient/ scope", in.Kind))
}

// narrowed reports whether a search only matches resources of Patient/p:
// inside that patient's compartment, or with a compartment parameter
// whose every (comma-separated) value names the patient.
func narrowed(in fhir.Interaction, p string) bool {
	if c := in.Compartment; c != nil {
		return c.Type == "Patient" && c.ID == p
	}
	if in.Type == "Patient" {
		return pins(in.Search["_id"], p, true)
	}
	if in.Type == "" || in.Type == "*" {
		return false
	}
	for _, param := range fhir.PatientSearchParams(in.Type) {
		for key, vals := range in.Search {
			name, mod, _ := strings.Cut(key, ":")
			if name == param && (mod == "" || mod == "Patient") && pins(vals, p, param == "patient" || mod == "Patient") {
				return true
			}
		}
	}
	return false
}

// pins reports whether one of vals (AND-ed occurrences) names only Patient/p.
func pins(vals []string, p string, bare bool) bool {
	for _, v := range vals {
		all := v != ""
		for _, part := range strings.Split(v, ",") {
			if !(fhir.IsPatientReference(part, p) || bare && part == p) {
				all = false
			}
		}
		if all {
			return true
		}
	}
	return false
}

// batch checks every entry of a batch or transaction.
func (e *evaluation) batch(req *pipeline.Request) (needs, *pipeline.Failure) {
	raw, f := e.body(req)
	if f != nil {
		return needs{}, f
	}
	b, err := fhir.ParseBundle(raw)
	if err != nil {
		return needs{}, pipeline.BadRequest(ReasonFHIRMalformed, err)
	}
	var all needs
	for i, in := range b.Entries {
		n, f := e.interaction(in)
		if f != nil {
			return needs{}, f
		}
		if n.body {
			if f := e.resourceInCompartment(in, b.Resources[i]); f != nil {
				return needs{}, f
			}
		}
		all.response = all.response || n.response
	}
	return all, nil
}

// requestBody checks the resource a patient/ create or update sends.
func (e *evaluation) requestBody(req *pipeline.Request, in fhir.Interaction) *pipeline.Failure {
	raw, f := e.body(req)
	if f != nil {
		return f
	}
	return e.resourceInCompartment(in, raw)
}

// body reads a JSON request body, bounded.
func (e *evaluation) body(req *pipeline.Request) ([]byte, *pipeline.Failure) {
	switch mediaType(req.HTTP) {
	case "application/fhir+json", "application/json", "application/json+fhir":
	default:
		return nil, pipeline.Forbidden(ReasonCompartmentUnverified, errors.New("grants: request body is not FHIR JSON"))
	}
	raw, err := readBody(req, e.s.MaxBody)
	if err != nil {
		var f *pipeline.Failure
		if errors.As(err, &f) {
			return nil, f
		}
		return nil, pipeline.BadRequest(ReasonFHIRMalformed, err)
	}
	return raw, nil
}

func (e *evaluation) resourceInCompartment(in fhir.Interaction, raw []byte) *pipeline.Failure {
	var res map[string]any
	if err := json.Unmarshal(raw, &res); err != nil || res == nil {
		return pipeline.BadRequest(ReasonFHIRMalformed, fmt.Errorf("grants: request resource is not a JSON object: %v", err))
	}
	if t, _ := res["resourceType"].(string); t != in.Type {
		return pipeline.BadRequest(ReasonFHIRMalformed, fmt.Errorf("grants: a %q sent to %s", t, in.Type))
	}
	if in.Kind == fhir.Update && in.ID != "" {
		if id, _ := res["id"].(string); id != in.ID {
			return pipeline.BadRequest(ReasonFHIRMalformed, fmt.Errorf("grants: resource id %q sent to %s/%s", id, in.Type, in.ID))
		}
	}
	if !fhir.InOnlyPatientCompartment(res, e.patient) {
		return pipeline.Forbidden(ReasonCompartmentEscape, fmt.Errorf("grants: %s %s outside the compartment of the patient in context", in.Kind, in.Type))
	}
	return nil
}

// missing makes the 403 naming the scope that would have been enough.
func (e *evaluation) missing(reason, typ string, perm Perm, in fhir.Interaction) *pipeline.Failure {
	ctx := ContextUser
	for _, c := range []Context{ContextSystem, ContextUser, ContextPatient} {
		if slices.ContainsFunc(e.scopes, func(s Scope) bool { return s.Context == c }) {
			ctx = c
			break
		}
	}
	want := string(ctx) + "/" + typ + "." + perm.String()
	return insufficientScope(reason, []string{want}, fmt.Errorf("grants: %s on %q needs %s", in.Kind, typ, want))
}

// groundBest records the first unconstrained scope granting perm on typ in
// the given context ("" for user/system).
func (e *evaluation) groundBest(typ string, perm Perm, ctx Context) {
	for _, sc := range e.scopes {
		if sc.Perms&perm == perm && (sc.Type == "*" || sc.Type == typ) && sc.Constraints == nil &&
			(ctx == ContextPatient) == (sc.Context == ContextPatient) {
			e.ground(sc.Raw)
			return
		}
	}
}

func (e *evaluation) ground(scope string) {
	if !slices.Contains(e.grounds, scope) {
		e.grounds = append(e.grounds, scope)
	}
}
