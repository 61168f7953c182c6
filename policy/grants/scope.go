package grants

import (
	"net/url"
	"strings"
)

// Perm is a set of SMART v2 permissions: c, r, u, d, s.
type Perm uint8

// The SMART v2 permission letters.
const (
	PermCreate Perm = 1 << iota
	PermRead
	PermUpdate
	PermDelete
	PermSearch

	// v1 .read is v2 .rs, .write is .cud, .* is .cruds (SMART v2 §"Scopes
	// for requesting clinical data", v1 mapping).
	permV1Read  = PermRead | PermSearch
	permV1Write = PermCreate | PermUpdate | PermDelete
	permAll     = permV1Read | permV1Write
)

const permLetters = "cruds"

func (p Perm) String() string {
	var b strings.Builder
	for i := range len(permLetters) {
		if p&(1<<i) != 0 {
			b.WriteByte(permLetters[i])
		}
	}
	return b.String()
}

// Context is the SMART scope context: patient, user or system.
type Context string

// The SMART contexts.
const (
	ContextPatient Context = "patient"
	ContextUser    Context = "user"
	ContextSystem  Context = "system"
)

// Scope is one parsed SMART App Launch scope.
type Scope struct {
	Context Context
	// Type is a resource type or "*".
	Type  string
	Perms Perm
	// Constraints are the v2 search parameters the scope is limited to
	// (patient/Observation.rs?category=laboratory), or nil.
	Constraints url.Values
	// Raw is the scope as granted.
	Raw string
}

// ParseScope reads a SMART v1 or v2 scope. ok is false for anything else:
// OAuth scopes (openid), policy OIDs, and malformed SMART scopes, which SMART
// lets servers ignore (out-of-order or repeated letters, unknown contexts).
func ParseScope(s string) (Scope, bool) {
	ctx, rest, ok := strings.Cut(s, "/")
	if !ok {
		return Scope{}, false
	}
	sc := Scope{Context: Context(ctx), Raw: s}
	switch sc.Context {
	case ContextPatient, ContextUser, ContextSystem:
	default:
		return Scope{}, false
	}
	rest, query, constrained := strings.Cut(rest, "?")
	typ, perm, ok := strings.Cut(rest, ".")
	if !ok || typ != "*" && !isType(typ) {
		return Scope{}, false
	}
	sc.Type = typ
	switch perm {
	case "read":
		sc.Perms = permV1Read
	case "write":
		sc.Perms = permV1Write
	case "*":
		sc.Perms = permAll
	default:
		last := -1
		for i := range len(perm) {
			j := strings.IndexByte(permLetters, perm[i])
			if j <= last {
				return Scope{}, false
			}
			sc.Perms |= 1 << j
			last = j
		}
		if sc.Perms == 0 {
			return Scope{}, false
		}
	}
	if constrained {
		isV1 := perm == "read" || perm == "write" || perm == "*"
		q, err := url.ParseQuery(query)
		if isV1 || err != nil || len(q) == 0 {
			return Scope{}, false
		}
		sc.Constraints = q
	}
	return sc, true
}

// ParseScopes returns the SMART scopes among scopes.
func ParseScopes(scopes []string) []Scope {
	out := make([]Scope, 0, len(scopes))
	for _, s := range scopes {
		if sc, ok := ParseScope(s); ok {
			out = append(out, sc)
		}
	}
	return out
}

func isType(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}
