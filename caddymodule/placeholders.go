package caddymodule

import (
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/healthgate/healthgate/policy/identity"
	"github.com/healthgate/healthgate/policy/pipeline"
)

// setPlaceholders makes the verified identity available to later handlers:
// {http.auth.user.id} (as caddyauth sets it, for Caddy's access log and
// directives) and the healthgate.* values, all computed only when a
// placeholder asks, so an unused one costs nothing and every one follows
// the final outcome.
func setPlaceholders(repl *caddy.Replacer, req *pipeline.Request, out *pipeline.Outcome) {
	p := &req.Principal
	repl.Map(func(key string) (any, bool) {
		if key == "http.auth.user.id" {
			// Read when asked, so a request a response check refused
			// after the fact carries no authenticated identity.
			if out.Effect != pipeline.Allow || p.ID() == "" {
				return nil, false
			}
			return p.ID(), true
		}
		name, ok := strings.CutPrefix(key, "healthgate.")
		if !ok {
			return nil, false
		}
		return principalValue(p, req, *out, name)
	})
}

func principalValue(p *identity.Principal, req *pipeline.Request, out pipeline.Outcome, name string) (any, bool) {
	if claim, ok := strings.CutPrefix(name, "claim."); ok {
		return strings.Join(p.Claims[claim], " "), true
	}
	if kind, field, ok := strings.Cut(name, "."); ok {
		switch kind {
		case "device", "application", "user":
			f := p.Facet(identity.Kind(kind))
			if f == nil {
				return "", true
			}
			switch field {
			case "id":
				return f.ID, true
			case "name":
				return f.Name, true
			case "proof":
				return string(f.Proof), true
			}
		case "cert":
			return certValue(p.Certificate, field)
		case "token":
			return tokenValue(p.Token, field)
		}
		return nil, false
	}
	switch name {
	case "anonymous":
		return out.Anonymous, true
	case "scopes":
		return strings.Join(p.Scopes, " "), true
	case "purpose_of_use":
		return strings.Join(p.PurposeOfUse, " "), true
	case "override":
		return p.Override, true
	case "route":
		return req.Route.Name, true
	case "decision":
		return out.Effect.String(), true
	case "reason":
		if out.Failure != nil {
			return out.Failure.Reason, true
		}
		return "", true
	}
	return nil, false
}

func certValue(c *identity.Certificate, field string) (any, bool) {
	if c == nil {
		return "", true
	}
	switch field {
	case "sha256":
		return c.SHA256, true
	case "sha1":
		return c.SHA1, true
	case "subject":
		return c.Subject, true
	case "issuer":
		return c.Issuer, true
	case "serial":
		return c.Serial, true
	}
	return nil, false
}

func tokenValue(t *identity.Token, field string) (any, bool) {
	if t == nil {
		return "", true
	}
	switch field {
	case "iss":
		return t.Issuer, true
	case "sub":
		return t.Subject, true
	case "client_id":
		return t.ClientID, true
	case "jti":
		return t.ID, true
	case "authmethod":
		return t.AuthMethod, true
	}
	return nil, false
}
