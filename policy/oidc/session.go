package oidc

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/healthgate/healthgate/policy/identity"
	"github.com/healthgate/healthgate/policy/pipeline"
)

// session is what a verified token says, ready to be put on any number of
// requests: the verified-token cache holds these. It never holds the token.
type session struct {
	issuer *issuer
	proof  identity.Proof

	user, name, app string
	roles           []string
	scopes          []string
	claims          map[string][]string
	// nvalues counts the values in claims, the size of the one copy apply
	// makes of them.
	nvalues int
	token   identity.Token
	// x5t is cnf.x5t#S256 (RFC 8705), base64url of the certificate's
	// SHA-256.
	x5t string
	// until is when the session stops being valid: exp plus skew, or
	// earlier under max_age.
	until time.Time
}

// newSession maps verified claims with the issuer's claim names; x5t is
// what confirmation read from the same claims.
func newSession(is *issuer, proof identity.Proof, claims map[string][]string, t times, x5t string) *session {
	n := &is.cfg.Claims
	s := &session{
		issuer: is,
		proof:  proof,
		user:   first(claims, n.User),
		name:   first(claims, n.Name),
		app:    first(claims, n.Application),
		roles:  all(claims, n.Role),
		scopes: scopes(claims, n.Scope),
		claims: claims,
		x5t:    x5t,
		token: identity.Token{
			Issuer:     is.cfg.Issuer,
			Subject:    first(claims, []string{"sub"}),
			ClientID:   first(claims, []string{"client_id", "azp"}),
			ID:         first(claims, []string{"jti"}),
			AuthMethod: first(claims, n.AuthMethod),
			Expiry:     t.exp,
		},
	}
	// Canonical names, so later policy reads role, email and authmethod
	// whatever the issuer calls them.
	for canon, names := range map[string][]string{"role": n.Role, "email": n.Email, "authmethod": n.AuthMethod} {
		if vs := all(claims, names); vs != nil {
			if _, ok := claims[canon]; !ok {
				claims[canon] = vs
			}
		}
	}
	for _, vs := range claims {
		s.nvalues += len(vs)
	}
	if !t.exp.IsZero() {
		s.until = t.exp.Add(is.cfg.ClockSkew)
	}
	if is.cfg.MaxAge > 0 && t.hasIAT {
		if byAge := t.iat.Add(is.cfg.MaxAge + is.cfg.ClockSkew); s.until.IsZero() || byAge.Before(s.until) {
			s.until = byAge
		}
	}
	return s
}

// apply puts the session on a request: checks it is still valid and bound
// to the request's certificate, then adds the facets, claims and scopes.
func (s *session) apply(req *pipeline.Request, now time.Time) error {
	if !s.until.IsZero() && !now.Before(s.until) {
		return fmt.Errorf("%w: at %s", ErrExpired, s.until.UTC().Format(time.RFC3339))
	}
	p := &req.Principal
	if s.x5t != "" {
		if err := checkBinding(s.x5t, p.Certificate); err != nil {
			return err
		}
	}
	if s.user != "" && s.user != s.app {
		// A token whose subject is its application (client_credentials)
		// has no user.
		err := p.Add(&identity.Facet{Kind: identity.User, ID: s.user, Name: s.name, Proof: s.proof, Source: s.token.Issuer})
		if err != nil {
			return fmt.Errorf("%w: %w", ErrConflict, err)
		}
	}
	if s.app != "" {
		err := p.Add(&identity.Facet{Kind: identity.Application, ID: s.app, Proof: identity.ProofClaim, Source: s.token.Issuer})
		var conflict *identity.ConflictError
		switch {
		case errors.As(err, &conflict) && s.issuer.cfg.ApplicationConflict == ConflictIgnore:
		case err != nil:
			return fmt.Errorf("%w: %w", ErrConflict, err)
		}
	}
	// One copy of all the values, cut into capped slices, so later policy
	// cannot change the cached session's: one allocation, not one a claim.
	if p.Claims == nil {
		p.Claims = make(map[string][]string, len(s.claims))
	}
	vals := make([]string, 0, s.nvalues)
	for name, vs := range s.claims {
		start := len(vals)
		vals = append(vals, vs...)
		p.SetClaim(name, vals[start:len(vals):len(vals)]...)
	}
	p.Scopes = slices.Grow(p.Scopes, len(s.scopes))
	for _, sc := range s.scopes {
		if !p.HasScope(sc) {
			p.Scopes = append(p.Scopes, sc)
		}
	}
	tok := s.token
	p.Token = &tok
	return nil
}

// confirmation reads a verified token's cnf (RFC 7800): the certificate
// thumbprint x5t#S256 it is bound to (RFC 8705), or "" when it has no cnf.
// It reads the JSON itself rather than the flattened claims, where a
// null, empty or non-string x5t#S256 would vanish and leave the token
// unbound. A cnf it cannot check (x5t#S256 missing or not a non-empty
// string, or another method such as DPoP's jkt) refuses the token.
func confirmation(claims map[string]json.RawMessage) (string, error) {
	raw, ok := claims["cnf"]
	if !ok {
		return "", nil
	}
	var cnf map[string]json.RawMessage
	if json.Unmarshal(raw, &cnf) != nil || cnf == nil {
		return "", fmt.Errorf("%w: cnf is not an object", ErrBinding)
	}
	for m := range cnf {
		if m != "x5t#S256" {
			return "", fmt.Errorf("%w: confirmation method cnf.%s not supported", ErrBinding, m)
		}
	}
	x5t, err := stringMember(cnf, "x5t#S256", true)
	if err != nil {
		return "", fmt.Errorf("%w: cnf.x5t#S256: %w", ErrBinding, err)
	}
	return x5t, nil
}

// checkBinding compares cnf.x5t#S256 with the verified client certificate,
// whose facts carry the SHA-256 in hex.
func checkBinding(x5t string, cert *identity.Certificate) error {
	if cert == nil {
		return fmt.Errorf("%w: cnf.x5t#S256 set but no client certificate", ErrBinding)
	}
	der, err := hex.DecodeString(cert.SHA256)
	if err != nil || len(der) != 32 {
		return fmt.Errorf("%w: certificate sha256 %q is not hex", ErrBinding, cert.SHA256)
	}
	want := base64.RawURLEncoding.EncodeToString(der)
	if subtle.ConstantTimeCompare([]byte(want), []byte(x5t)) != 1 {
		return fmt.Errorf("%w: cnf.x5t#S256 does not match the certificate", ErrBinding)
	}
	return nil
}
