package caddymodule

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/healthgate/healthgate/policy/grants"
	"github.com/healthgate/healthgate/policy/pipeline"
)

func init() { caddy.RegisterModule(SMART{}) }

// SMART enforces SMART App Launch v1 and v2 scopes (patient/, user/,
// system/) on the FHIR REST API below Base: the interaction derived from
// method and path, its resource type, _include / _revinclude / _has types
// and every batch entry must be covered by a granted scope. Under patient/
// scopes the request must stay in the compartment of the token's patient
// claim, and the responses of reads and searches are checked before they
// reach the client (pipeline.ResponseChecker; bounded by MaxResponse).
//
// Reason codes: scope_missing and include_not_allowed (403 with
// WWW-Authenticate insufficient_scope), compartment_escape,
// search_not_narrowed, patient_context_missing, operation_not_allowed,
// scope_constraint_unverifiable, compartment_unverifiable,
// response_outside_compartment (403), fhir_request_malformed (400),
// fhir_outside_base (403), body_too_large (413), response_unverifiable (502).
type SMART struct {
	// Base is the FHIR base path, e.g. /fhir; / for the root. Default:
	// the healthgate handler's fhir_base, else the root.
	Base string `json:"base,omitempty"`
	// Operations allows $operations (names without "$") with the SMART v2
	// permission letters each needs on its type, e.g. {"everything":
	// "rs"}. Default: none; an operation not listed is refused.
	Operations map[string]string `json:"operations,omitempty"`
	// MaxBody bounds the request bodies read (batches, patient/ writes,
	// POST _search forms), in bytes. Default: 1 MiB.
	MaxBody int64 `json:"max_body,omitempty"`
	// MaxResponse bounds the response bodies checked under patient/
	// scopes, in bytes; a longer one is refused (502). Default: 8 MiB.
	MaxResponse int64 `json:"max_response,omitempty"`
	// Claims names the patient claim. Default: patient.
	Claims grants.ClaimNames `json:"claims,omitzero"`

	policy *grants.SMART
}

// CaddyModule returns the Caddy module information.
func (SMART) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "healthgate.policies.smart", New: func() caddy.Module { return new(SMART) }}
}

// Provision builds the policy.
func (s *SMART) Provision(caddy.Context) error {
	ops := make(map[string]grants.Perm, len(s.Operations))
	for name, letters := range s.Operations {
		p, err := parsePerms(letters)
		if err != nil {
			return fmt.Errorf("smart operation %q: %w", name, err)
		}
		ops[strings.TrimPrefix(name, "$")] = p
	}
	s.policy = &grants.SMART{Base: s.Base, Operations: ops, MaxBody: s.MaxBody, MaxResponse: s.MaxResponse, Claims: s.Claims}
	if err := s.policy.Provision(); err != nil {
		return fmt.Errorf("smart: %w", err)
	}
	return nil
}

// parsePerms reads SMART v2 letters (cruds, in that order).
func parsePerms(letters string) (grants.Perm, error) {
	sc, ok := grants.ParseScope("user/*." + letters)
	if !ok || strings.ContainsAny(letters, "?*") || letters == "read" || letters == "write" {
		return 0, fmt.Errorf("permissions %q: want SMART v2 letters in the order c r u d s, e.g. rs", letters)
	}
	return sc.Perms, nil
}

// Decide implements pipeline.Policy.
func (s *SMART) Decide(ctx context.Context, req *pipeline.Request) pipeline.Decision {
	return s.policy.Decide(ctx, req)
}

// ResponseLimit implements pipeline.ResponseChecker.
func (s *SMART) ResponseLimit(req *pipeline.Request) int64 { return s.policy.ResponseLimit(req) }

// CheckResponse implements pipeline.ResponseChecker.
func (s *SMART) CheckResponse(ctx context.Context, req *pipeline.Request, status int, header http.Header, body []byte, truncated bool) *pipeline.Failure {
	return s.policy.CheckResponse(ctx, req, status, header, body, truncated)
}

// UnmarshalCaddyfile reads the smart sub-directive of healthgate:
//
//	smart {
//		base         <path>             # FHIR base, e.g. /fhir; default the handler's fhir_base
//		operation    <name> <letters>   # e.g. operation $everything rs; repeatable
//		max_body     <size>             # default 1MiB
//		max_response <size>             # default 8MiB
//		claim        patient <claim name...>
//	}
func (s *SMART) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // smart
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch sub := d.Val(); sub {
		case "base":
			if !d.AllArgs(&s.Base) {
				return d.ArgErr()
			}
			if !strings.HasPrefix(s.Base, "/") {
				return d.Errf("smart base %q: want a path starting with /", s.Base)
			}
		case "operation":
			var name, letters string
			if !d.AllArgs(&name, &letters) {
				return d.Errf("smart operation: want <name> <permission letters>, e.g. $everything rs")
			}
			if _, err := parsePerms(letters); err != nil {
				return d.Errf("smart operation %s: %v", name, err)
			}
			if s.Operations == nil {
				s.Operations = make(map[string]string)
			}
			s.Operations[strings.TrimPrefix(name, "$")] = letters
		case "max_body", "max_response":
			n, err := parseSize(d, "smart "+sub)
			if err != nil {
				return err
			}
			if sub == "max_body" {
				s.MaxBody = n
			} else {
				s.MaxResponse = n
			}
		case "claim":
			if err := unmarshalClaim(d, "smart", &s.Claims); err != nil {
				return err
			}
		default:
			return d.Errf("smart: unknown option %q", sub)
		}
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner        = (*SMART)(nil)
	_ pipeline.Policy          = (*SMART)(nil)
	_ pipeline.ResponseChecker = (*SMART)(nil)
	_ caddyfile.Unmarshaler    = (*SMART)(nil)
)
