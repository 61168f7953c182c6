package identity

import (
	"fmt"
	"slices"
	"time"
)

// Principal is everything the pipeline proved about who sends a request.
// Verifiers fill it; policy, rules and effects only read it.
type Principal struct {
	Device      *Facet `json:"device,omitempty"`
	Application *Facet `json:"application,omitempty"`
	User        *Facet `json:"user,omitempty"`

	// Claims holds verified token claims and claims added by rules, each
	// as a list of strings (a scalar claim has one element).
	Claims map[string][]string `json:"claims,omitempty"`
	// Scopes holds the granted scopes: OAuth scopes, SMART scopes and the
	// policy OIDs SanteDB grants.
	Scopes []string `json:"scopes,omitempty"`
	// PurposeOfUse holds the accepted purpose-of-use codes (EMERG, TREAT…).
	PurposeOfUse []string `json:"purpose_of_use,omitempty"`
	// Override is set when a break-the-glass override was accepted.
	Override bool `json:"override,omitempty"`

	// Certificate describes the verified client certificate, if any.
	Certificate *Certificate `json:"certificate,omitempty"`
	// Token describes the verified bearer token, if any. It never holds
	// the token itself.
	Token *Token `json:"token,omitempty"`
}

// Certificate holds the facts of a verified client certificate.
type Certificate struct {
	SHA256    string    `json:"sha256"`
	SHA1      string    `json:"sha1"`
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	Serial    string    `json:"serial"`
	NotAfter  time.Time `json:"not_after"`
	DNSNames  []string  `json:"dns_names,omitempty"`
	URIs      []string  `json:"uris,omitempty"`
	Emails    []string  `json:"emails,omitempty"`
	Forwarded bool      `json:"forwarded,omitempty"`
}

// Token holds the audit-safe facts of a verified token.
type Token struct {
	Issuer     string    `json:"iss"`
	Subject    string    `json:"sub,omitempty"`
	ClientID   string    `json:"client_id,omitempty"`
	ID         string    `json:"jti,omitempty"`
	AuthMethod string    `json:"authmethod,omitempty"`
	Expiry     time.Time `json:"exp"`
}

// Facet returns the facet of the given kind, or nil.
func (p *Principal) Facet(k Kind) *Facet {
	switch k {
	case Device:
		return p.Device
	case Application:
		return p.Application
	case User:
		return p.User
	}
	return nil
}

// Facets returns the facets present, device first.
func (p *Principal) Facets() []*Facet {
	fs := make([]*Facet, 0, 3)
	for _, f := range []*Facet{p.Device, p.Application, p.User} {
		if f != nil {
			fs = append(fs, f)
		}
	}
	return fs
}

// ConflictError reports two credentials that name different identities for
// the same facet, such as a certificate mapped to one application and a token
// issued to another.
type ConflictError struct {
	Kind          Kind
	Have, Offered *Facet
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("identity: %s %q proven by %s conflicts with %s %q from %s",
		e.Kind, e.Have.ID, e.Have.Proof, e.Kind, e.Offered.ID, e.Offered.Proof)
}

// Add records a facet. A facet of a kind already present must name the same
// id; otherwise Add returns a *ConflictError and keeps the first. A proven
// facet replaces one only claimed for the same id.
func (p *Principal) Add(f *Facet) error {
	slot := p.slot(f.Kind)
	if slot == nil {
		return fmt.Errorf("identity: unknown facet kind %q", f.Kind)
	}
	if have := *slot; have != nil {
		if have.ID != f.ID {
			return &ConflictError{Kind: f.Kind, Have: have, Offered: f}
		}
		if have.Proven() || !f.Proven() {
			return nil
		}
	}
	*slot = f
	return nil
}

func (p *Principal) slot(k Kind) **Facet {
	switch k {
	case Device:
		return &p.Device
	case Application:
		return &p.Application
	case User:
		return &p.User
	}
	return nil
}

// Anonymous reports whether no facet was proven.
func (p *Principal) Anonymous() bool {
	return p.Device == nil && p.Application == nil && p.User == nil
}

// ID returns the most specific identity: the user, else the application,
// else the device. It is what Caddy's {http.auth.user.id} carries.
func (p *Principal) ID() string {
	for _, f := range []*Facet{p.User, p.Application, p.Device} {
		if f != nil {
			return f.ID
		}
	}
	return ""
}

// HasScope reports whether scope was granted, compared exactly.
func (p *Principal) HasScope(scope string) bool { return slices.Contains(p.Scopes, scope) }

// Claim returns the first value of a claim, or "".
func (p *Principal) Claim(name string) string {
	if v := p.Claims[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// SetClaim replaces a claim's values.
func (p *Principal) SetClaim(name string, values ...string) {
	if p.Claims == nil {
		p.Claims = make(map[string][]string)
	}
	p.Claims[name] = values
}
