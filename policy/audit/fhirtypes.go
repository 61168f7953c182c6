package audit

// The subset of FHIR R4 datatypes an AuditEvent needs, with JSON names as
// the specification gives them (hl7.org/fhir/R4/auditevent.html).

// AuditEvent is a FHIR R4 AuditEvent resource.
type AuditEvent struct {
	ResourceType   string            `json:"resourceType"`
	ID             string            `json:"id,omitempty"`
	Type           Coding            `json:"type"`
	Subtype        []Coding          `json:"subtype,omitempty"`
	Action         string            `json:"action,omitempty"`
	Recorded       string            `json:"recorded"`
	Outcome        string            `json:"outcome,omitempty"`
	OutcomeDesc    string            `json:"outcomeDesc,omitempty"`
	PurposeOfEvent []CodeableConcept `json:"purposeOfEvent,omitempty"`
	Agent          []Agent           `json:"agent"`
	Source         EventSource       `json:"source"`
	Entity         []Entity          `json:"entity,omitempty"`
}

// Coding is a code from a code system.
type Coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

// CodeableConcept is a concept given by codings.
type CodeableConcept struct {
	Coding []Coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

// Identifier is a business identifier.
type Identifier struct {
	System string `json:"system,omitempty"`
	Value  string `json:"value,omitempty"`
}

// Reference points at a resource, by literal reference or identifier.
type Reference struct {
	Reference  string      `json:"reference,omitempty"`
	Type       string      `json:"type,omitempty"`
	Identifier *Identifier `json:"identifier,omitempty"`
	Display    string      `json:"display,omitempty"`
}

// Agent is an actor in the event.
type Agent struct {
	Type         *CodeableConcept  `json:"type,omitempty"`
	Who          *Reference        `json:"who,omitempty"`
	Name         string            `json:"name,omitempty"`
	Requestor    bool              `json:"requestor"`
	Policy       []string          `json:"policy,omitempty"`
	Network      *Network          `json:"network,omitempty"`
	PurposeOfUse []CodeableConcept `json:"purposeOfUse,omitempty"`
}

// Network is where an agent acted from.
type Network struct {
	Address string `json:"address,omitempty"`
	// Type is 1 (machine name), 2 (IP address) … (network-type).
	Type string `json:"type,omitempty"`
}

// EventSource is the system that recorded the event.
type EventSource struct {
	Site     string    `json:"site,omitempty"`
	Observer Reference `json:"observer"`
	Type     []Coding  `json:"type,omitempty"`
}

// Entity is a data or object the event used.
type Entity struct {
	What        *Reference `json:"what,omitempty"`
	Type        *Coding    `json:"type,omitempty"`
	Role        *Coding    `json:"role,omitempty"`
	Name        string     `json:"name,omitempty"`
	Description string     `json:"description,omitempty"`
	// Query is the base64 of the query (base64Binary).
	Query  []byte   `json:"query,omitempty"`
	Detail []Detail `json:"detail,omitempty"`
}

// Detail is a tagged value on an entity.
type Detail struct {
	Type        string `json:"type"`
	ValueString string `json:"valueString"`
}

// Bundle is a FHIR Bundle of type batch (what the shipper sends) or
// batch-response (what it reads back).
type Bundle struct {
	ResourceType string        `json:"resourceType"`
	Type         string        `json:"type"`
	Entry        []BundleEntry `json:"entry,omitempty"`
}

// BundleEntry is one entry of a batch or batch-response.
type BundleEntry struct {
	FullURL  string          `json:"fullUrl,omitempty"`
	Resource any             `json:"resource,omitempty"`
	Request  *BundleRequest  `json:"request,omitempty"`
	Response *BundleResponse `json:"response,omitempty"`
}

// BundleRequest says what to do with a batch entry.
type BundleRequest struct {
	Method string `json:"method"`
	URL    string `json:"url"`
}

// BundleResponse is the server's answer to one batch entry.
type BundleResponse struct {
	// Status starts with the HTTP status code ("201 Created").
	Status string `json:"status"`
}
