package identity

import "fmt"

// Kind names one of the three facets of a Principal.
type Kind string

// The facet kinds, as SanteDB's ICertificateIdentityProvider maps them.
const (
	Device      Kind = "device"
	Application Kind = "application"
	User        Kind = "user"
)

// ParseKind returns the Kind named by s, or an error naming the accepted values.
func ParseKind(s string) (Kind, error) {
	switch Kind(s) {
	case Device, Application, User:
		return Kind(s), nil
	}
	return "", fmt.Errorf("identity: unknown facet kind %q (want device, application or user)", s)
}

// Proof says how a facet was proven.
type Proof string

// The proofs healthgate's verifiers produce.
const (
	// ProofMTLS: a client certificate from Caddy's own TLS handshake,
	// verified against the route's trust pool.
	ProofMTLS Proof = "mtls"
	// ProofForwardedCert: a client certificate forwarded by a trusted TLS
	// terminator, re-verified against the trust pool.
	ProofForwardedCert Proof = "forwarded_cert"
	// ProofJWT: a signed token verified locally against the issuer's keys.
	ProofJWT Proof = "jwt"
	// ProofIntrospection: an opaque token the issuer confirmed (RFC 7662).
	ProofIntrospection Proof = "introspection"
	// ProofCWS: a CorEMR request signature verified with the user's key.
	ProofCWS Proof = "cws"
	// ProofBasic: a shared secret checked against a hashed registry entry.
	ProofBasic Proof = "basic"
	// ProofClaim: named by another proven credential (a token's appid
	// claim, say) without a proof of its own.
	ProofClaim Proof = "claim"
)

// Facet is one proven identity of a Principal.
type Facet struct {
	Kind Kind `json:"kind"`
	// ID is the identifier the upstream and policy see: a SanteDB device
	// id, an application id, a user name.
	ID string `json:"id"`
	// Name is a display name where the credential carries one.
	Name string `json:"name,omitempty"`
	// Proof says how the facet was proven.
	Proof Proof `json:"proof"`
	// Source names what vouched for it: a certificate fingerprint, a token
	// issuer, a key registry.
	Source string `json:"source,omitempty"`
}

// Proven reports whether the facet rests on a cryptographic proof of its
// own rather than on another credential's say-so.
func (f *Facet) Proven() bool { return f != nil && f.Proof != ProofClaim && f.Proof != "" }
