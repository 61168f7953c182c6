package caddymodule

import (
	"context"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/healthgate/healthgate/policy/grants"
	"github.com/healthgate/healthgate/policy/pipeline"
)

func init() { caddy.RegisterModule(RequirePolicy{}) }

// RequirePolicy demands SanteDB policy OIDs on a route: each must be in the
// token's scope, compared exactly (SanteDB's PDP for tokens). A missing one
// is answered 403 policy_missing with
// WWW-Authenticate: Bearer error="insufficient_scope", scope="<missing OIDs>".
// With Override, an accepted break-the-glass override stands in for
// missing OIDs it lists.
type RequirePolicy struct {
	// OIDs are the required policy OIDs. Required.
	OIDs []string `json:"oids,omitempty"`
	// Inherit lets a granted ancestor OID cover a required one. Default:
	// false (exact match).
	Inherit bool `json:"inherit,omitempty"`
	// Override configures break-the-glass for the missing OIDs.
	Override *BreakGlassConfig `json:"override,omitempty"`

	policy *grants.RequirePolicy
}

// CaddyModule returns the Caddy module information.
func (RequirePolicy) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "healthgate.policies.require_policy", New: func() caddy.Module { return new(RequirePolicy) }}
}

// Provision checks the OIDs.
func (r *RequirePolicy) Provision(caddy.Context) error {
	p := &grants.RequirePolicy{OIDs: r.OIDs, Inherit: r.Inherit}
	if r.Override != nil {
		bg, err := r.Override.build()
		if err != nil {
			return fmt.Errorf("require_policy override: %w", err)
		}
		p.Override = &bg
	}
	if err := p.Provision(); err != nil {
		return fmt.Errorf("require_policy: %w", err)
	}
	r.policy = p
	return nil
}

// Decide implements pipeline.Policy.
func (r *RequirePolicy) Decide(ctx context.Context, req *pipeline.Request) pipeline.Decision {
	return r.policy.Decide(ctx, req)
}

// UnmarshalCaddyfile reads the require_policy sub-directive of healthgate
// (usually inside a route):
//
//	require_policy <oid...> {
//		inherit                   # an ancestor OID in the scope covers
//		override {                # break-the-glass for the missing OIDs
//			purposes <code...>
//			policies <oid...>
//			allow_without_token
//			claim    override|purpose_of_use <claim name...>
//		}
//	}
func (r *RequirePolicy) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // require_policy
	for d.NextArg() {
		oid := d.Val()
		if _, err := grants.ParsePolicy(oid); err != nil || !isOID(oid) {
			return d.Errf("require_policy %q: not a policy OID", oid)
		}
		r.OIDs = append(r.OIDs, oid)
	}
	if len(r.OIDs) == 0 {
		return d.Errf("require_policy: name at least one policy OID")
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch sub := d.Val(); sub {
		case "inherit":
			if d.NextArg() {
				return d.ArgErr()
			}
			r.Inherit = true
		case "override":
			if d.NextArg() {
				return d.ArgErr()
			}
			if r.Override == nil {
				r.Override = new(BreakGlassConfig)
			}
			if err := r.Override.unmarshal(d, "require_policy override"); err != nil {
				return err
			}
		default:
			return d.Errf("require_policy: unknown option %q", sub)
		}
	}
	return nil
}

// isOID tells an OID from a grant-type name ParsePolicy also accepts.
func isOID(s string) bool { return len(s) > 0 && s[0] >= '0' && s[0] <= '9' }

// Interface guards
var (
	_ caddy.Provisioner     = (*RequirePolicy)(nil)
	_ pipeline.Policy       = (*RequirePolicy)(nil)
	_ caddyfile.Unmarshaler = (*RequirePolicy)(nil)
)
