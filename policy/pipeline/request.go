package pipeline

import (
	"net/http"
	"slices"
	"time"

	"github.com/healthgate/healthgate/policy/identity"
)

// Request is one HTTP request on its way through the pipeline.
type Request struct {
	// HTTP is the request. Verifiers may replace its Body (to spool and
	// hash it) but must hand on exactly the bytes they verified.
	HTTP *http.Request
	// Route is the route the request matched.
	Route *Route
	// TrustedHop reports whether the immediate peer is a trusted proxy
	// (Caddy's trusted_proxies), the only case in which headers set by a
	// TLS terminator may be believed.
	TrustedHop bool
	// ClientIP is the client address as Caddy resolved it.
	ClientIP string
	// Now is the request's time, read once.
	Now time.Time

	// Principal is filled by the verifiers.
	Principal identity.Principal
	// Verified lists the names of the verifiers whose credentials verified.
	Verified []string
	// Upstream holds headers to set on the proxied request in addition to
	// the identity headers (a forwarded certificate, say).
	Upstream http.Header
	// FHIRBase is the handler's FHIR base path ("/fhir"), the default of
	// components that classify FHIR requests (see FHIR) and have no base
	// of their own. "" when none is configured.
	FHIRBase string

	cleanups []func()
	// fhir caches FHIR's classifications, one per base asked for
	// (usually one).
	fhir []fhirResult
}

// NewRequest starts a Request for r on route.
func NewRequest(r *http.Request, route *Route, now time.Time) *Request {
	return &Request{HTTP: r, Route: route, Now: now}
}

// Has reports whether the named verifier's credentials verified.
func (r *Request) Has(verifier string) bool { return slices.Contains(r.Verified, verifier) }

// Defer registers f to run when the request is finished (after the upstream
// answered), such as removing a spooled body.
func (r *Request) Defer(f func()) { r.cleanups = append(r.cleanups, f) }

// Finish runs the deferred functions, last first. Safe to call twice.
func (r *Request) Finish() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	r.cleanups = nil
}

// SetUpstream sets a header for the upstream request.
func (r *Request) SetUpstream(name, value string) {
	if r.Upstream == nil {
		r.Upstream = make(http.Header)
	}
	r.Upstream.Set(name, value)
}
