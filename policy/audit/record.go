package audit

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/healthgate/healthgate/policy/identity"
	"github.com/healthgate/healthgate/policy/pipeline"
)

// Decision classifies a Record.
type Decision string

// The decisions a Record can carry.
const (
	// DecisionAllow: credentials verified and no policy refused.
	DecisionAllow Decision = "allow"
	// DecisionDeny: refused for the client's credentials or rights (4xx).
	DecisionDeny Decision = "deny"
	// DecisionError: refused because the gateway or something it depends
	// on failed (5xx, e.g. an unreachable introspection endpoint).
	DecisionError Decision = "error"
	// DecisionLimited: no credentials, passed as a safe read on a route in
	// missing-credentials mode limit.
	DecisionLimited Decision = "limited"
	// DecisionAnonymous: no credentials, passed on a public route or in
	// missing-credentials mode ignore.
	DecisionAnonymous Decision = "anonymous"
)

// Reasons given to passes without credentials, so that every anonymous
// record says why it passed.
const (
	ReasonPublic             = "public_route"
	ReasonCredentialsMissing = "credentials_missing"
)

// GroundOverridden prefixes a decision ground that names a policy an
// accepted break-the-glass overrode ("overridden:1.3.6.1.4.1.33349.3.1.5.9.2.1").
const GroundOverridden = "overridden:"

// Record is the audit record of one decision. Every field is safe to log: it
// holds no token, secret, signature or body.
type Record struct {
	Time      time.Time `json:"time"`
	RequestID string    `json:"request_id,omitempty"`
	Route     string    `json:"route,omitempty"`
	Method    string    `json:"method"`
	Host      string    `json:"host,omitempty"`
	Path      string    `json:"path"`
	// Query is the request query with credential-bearing parameters
	// (access_token, code, client_secret…) redacted.
	Query string `json:"query,omitempty"`
	// FHIR is the FHIR interaction, where the request is one.
	FHIR *FHIR `json:"fhir,omitempty"`

	Decision Decision `json:"decision"`
	// Status is what the client got: the refusal's status, or the
	// upstream's for an allowed request.
	Status int `json:"status"`
	// UpstreamStatus is the upstream's status; 0 when the request never
	// reached it.
	UpstreamStatus int `json:"upstream_status,omitempty"`
	// Reason is the stable reason code of a refusal or anonymous pass.
	Reason string `json:"reason,omitempty"`

	Device      *identity.Facet `json:"device,omitempty"`
	Application *identity.Facet `json:"application,omitempty"`
	User        *identity.Facet `json:"user,omitempty"`
	// Verified names the verifiers whose credentials verified.
	Verified []string `json:"verified,omitempty"`
	// Token holds the verified token's iss, sub, client_id and jti,
	// never the token.
	Token *identity.Token `json:"token,omitempty"`
	// Certificate identifies the verified client certificate.
	Certificate *Certificate `json:"certificate,omitempty"`
	// CWSKeyUser is the CorEMR key user of a verified CWS signature.
	CWSKeyUser   string   `json:"cws_key_user,omitempty"`
	PurposeOfUse []string `json:"purpose_of_use,omitempty"`
	// Override is set when a break-the-glass override was accepted.
	Override bool `json:"override,omitempty"`
	// Overridden lists the policies an accepted override overrode: the
	// deciding grounds of the form "overridden:<policy>".
	Overridden []string `json:"overridden,omitempty"`
	// Grounds are the scopes, policy OIDs or rule results that decided:
	// those of every allowing policy, or of the refusing one.
	Grounds []string `json:"grounds,omitempty"`
	// Policies lists each policy that did not abstain, in order: WASM
	// rules appear here with their results.
	Policies []PolicyResult `json:"policies,omitempty"`

	// ClientIP is the client address as Caddy resolved it through its
	// trusted proxies.
	ClientIP string `json:"client_ip,omitempty"`
	// Duration is the time from the request's start to the record, in
	// seconds.
	Duration float64 `json:"duration"`
}

// FHIR is the FHIR REST interaction a request performs.
type FHIR struct {
	// Interaction is the restful-interaction code (read, search-type…).
	Interaction string `json:"interaction"`
	Type        string `json:"type,omitempty"`
	ID          string `json:"id,omitempty"`
	// Compartment is the compartment a search runs in ("Patient/123").
	Compartment string `json:"compartment,omitempty"`
	Operation   string `json:"operation,omitempty"`
}

// Certificate identifies a verified client certificate.
type Certificate struct {
	SHA256    string `json:"sha256"`
	Subject   string `json:"subject,omitempty"`
	Issuer    string `json:"issuer,omitempty"`
	Serial    string `json:"serial,omitempty"`
	Forwarded bool   `json:"forwarded,omitempty"`
}

// PolicyResult is one policy's decision as the record shows it.
type PolicyResult struct {
	Policy  string   `json:"policy"`
	Effect  string   `json:"effect"`
	Grounds []string `json:"grounds,omitempty"`
	Reason  string   `json:"reason,omitempty"`
}

// NewRecord builds the record of one decision. status is what the client got
// (the upstream's status for an allowed request, 0 if unknown); elapsed is
// the time since the request started; requestID correlates the record with
// Caddy's logs.
func NewRecord(req *pipeline.Request, out pipeline.Outcome, status int, elapsed time.Duration, requestID string) Record {
	r := Record{
		Time:      req.Now,
		RequestID: requestID,
		Status:    status,
		ClientIP:  req.ClientIP,
		Duration:  elapsed.Seconds(),
		Verified:  slices.Clone(req.Verified),
	}
	if req.Route != nil {
		r.Route = req.Route.Name
	}
	if h := req.HTTP; h != nil {
		r.Method, r.Host = h.Method, h.Host
		if h.URL != nil {
			r.Path = h.URL.EscapedPath()
			r.Query = RedactQuery(h.URL.RawQuery)
		}
	}
	r.decide(req, out)

	p := &req.Principal
	r.Device, r.Application, r.User = cloneFacet(p.Device), cloneFacet(p.Application), cloneFacet(p.User)
	if p.Token != nil {
		t := *p.Token
		r.Token = &t
	}
	if c := p.Certificate; c != nil {
		r.Certificate = &Certificate{SHA256: c.SHA256, Subject: c.Subject, Issuer: c.Issuer, Serial: c.Serial, Forwarded: c.Forwarded}
	}
	for _, f := range p.Facets() {
		if f.Proof == identity.ProofCWS {
			r.CWSKeyUser = f.ID
		}
	}
	r.PurposeOfUse = slices.Clone(p.PurposeOfUse)
	r.Override = p.Override && out.Effect == pipeline.Allow
	if r.Override {
		for _, g := range r.Grounds {
			if oid, ok := strings.CutPrefix(g, GroundOverridden); ok {
				r.Overridden = append(r.Overridden, oid)
			}
		}
	}
	return r
}

// decide fills the decision, status, reason, grounds and policy results.
func (r *Record) decide(req *pipeline.Request, out pipeline.Outcome) {
	for _, d := range out.Decisions {
		pr := PolicyResult{Policy: d.Policy, Effect: d.Effect.String(), Grounds: slices.Clone(d.Grounds)}
		if d.Failure != nil {
			pr.Reason = d.Failure.Reason
		}
		r.Policies = append(r.Policies, pr)
	}
	switch {
	case out.Effect != pipeline.Allow:
		f := out.Failure
		if f == nil {
			f = pipeline.Forbidden("denied", nil)
		}
		r.Decision, r.Reason = DecisionDeny, f.Reason
		if f.Status >= http.StatusInternalServerError {
			r.Decision = DecisionError
		}
		if r.Status == 0 {
			r.Status = f.Status
		}
		// The refusing policy is the last one listed.
		if n := len(out.Decisions); n > 0 && out.Decisions[n-1].Effect == pipeline.Deny {
			r.Grounds = slices.Clone(out.Decisions[n-1].Grounds)
		}
	case out.Anonymous:
		r.Decision, r.Reason = DecisionAnonymous, ReasonCredentialsMissing
		switch {
		case req.Route != nil && req.Route.Public:
			r.Reason = ReasonPublic
		case req.Route != nil && req.Route.Missing == pipeline.MissingLimit:
			r.Decision = DecisionLimited
		}
		r.UpstreamStatus = r.Status
	default:
		r.Decision = DecisionAllow
		r.UpstreamStatus = r.Status
		for _, d := range out.Decisions {
			r.Grounds = append(r.Grounds, d.Grounds...)
		}
	}
}

// Unauthenticated reports whether the record is of a refusal for missing or
// invalid credentials (401): the records an anonymous flood produces.
func (r *Record) Unauthenticated() bool {
	return r.Decision == DecisionDeny && r.Status == http.StatusUnauthorized
}

func cloneFacet(f *identity.Facet) *identity.Facet {
	if f == nil {
		return nil
	}
	c := *f
	return &c
}
