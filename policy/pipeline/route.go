package pipeline

import "fmt"

// Missing says what a route does with a request that presents no credentials.
// The modes are FHIRServer's.
type Missing uint8

const (
	// MissingReject answers 401 with WWW-Authenticate. The default.
	MissingReject Missing = iota
	// MissingLimit lets safe reads (GET, HEAD) through as anonymous and
	// answers everything else 401.
	MissingLimit
	// MissingIgnore lets the request through as anonymous.
	MissingIgnore
)

// ParseMissing reads reject, limit or ignore.
func ParseMissing(s string) (Missing, error) {
	switch s {
	case "reject":
		return MissingReject, nil
	case "limit":
		return MissingLimit, nil
	case "ignore":
		return MissingIgnore, nil
	}
	return 0, fmt.Errorf("unknown missing-credentials mode %q (want reject, limit or ignore)", s)
}

func (m Missing) String() string {
	switch m {
	case MissingLimit:
		return "limit"
	case MissingIgnore:
		return "ignore"
	}
	return "reject"
}

// Route is what applies to the requests a path pattern matches.
type Route struct {
	// Name identifies the route in logs and audit records.
	Name string
	// Public routes pass without credentials and without verification.
	Public bool
	// Missing applies when no credentials were presented.
	Missing Missing
	// Require names verifiers whose credentials must verify on this route
	// (e.g. "client_cert"), whatever else verified.
	Require []string
	// Policies decide after the global ones, deny-overrides.
	Policies []NamedPolicy
}
