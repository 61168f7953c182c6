package fhir

import "net/url"

// Kind is a FHIR restful interaction, named by its code in the
// restful-interaction value set.
type Kind string

// The interactions of the FHIR REST API.
const (
	Read            Kind = "read"
	VRead           Kind = "vread"
	Update          Kind = "update"
	Patch           Kind = "patch"
	Delete          Kind = "delete"
	HistoryInstance Kind = "history-instance"
	HistoryType     Kind = "history-type"
	HistorySystem   Kind = "history-system"
	Create          Kind = "create"
	SearchType      Kind = "search-type"
	SearchSystem    Kind = "search-system"
	Capabilities    Kind = "capabilities"
	// Batch is a POST of a Bundle to the base: a batch or a transaction,
	// which only the body's Bundle.type tells apart (see ParseBundle).
	Batch     Kind = "batch"
	Operation Kind = "operation"
)

// Interaction is what one FHIR REST request does.
type Interaction struct {
	Kind Kind
	// Type is the resource type the interaction acts on ("" at system
	// level). For a compartment search it is the searched type, or "*"
	// for Patient/123/*.
	Type string
	// ID is the logical id (instance level), else "".
	ID string
	// Version is the version id of a vread, else "".
	Version string
	// Compartment is set for a search inside a compartment
	// ([base]/Patient/123/Observation).
	Compartment *Reference
	// Operation is the operation name without "$" (Kind Operation).
	Operation string
	// Conditional is set for update, patch and delete on a type with
	// search parameters instead of an id.
	Conditional bool
	// Search holds the query parameters that select resources: every
	// parameter except the result parameters (_include, _revinclude,
	// _count, _sort, _elements, _summary, _format …). For POST _search
	// it holds only the URL's parameters; the body's are not seen here.
	Search url.Values
	// Includes lists the _include and _revinclude parameters.
	Includes []Include
}

// Reference is a resource type and id.
type Reference struct {
	Type string
	ID   string
}

func (r Reference) String() string { return r.Type + "/" + r.ID }

// Instance reports whether the interaction names a single resource by id.
func (i Interaction) Instance() bool { return i.ID != "" }

// IsSearch reports whether the interaction is a search (type, system or
// compartment).
func (i Interaction) IsSearch() bool { return i.Kind == SearchType || i.Kind == SearchSystem }
