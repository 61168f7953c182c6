package caddymodule

import (
	"context"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/healthgate/healthgate/policy/grants"
	"github.com/healthgate/healthgate/policy/pipeline"
)

func init() { caddy.RegisterModule(BreakGlass{}) }

// BreakGlass checks break-the-glass requests: the X-SanteDBClient-Claim
// header (base64 URN list or PolicyOverride=1;PurposeOfUse=EMERG) against
// the verified token, which must carry the override (isOverride, or the
// override scope 1.3.6.1.4.1.33349.3.1.5.9.2.999). An accepted override
// sets {healthgate.override} and the purpose of use on the principal, and
// the decision's grounds ("override", "purpose:<code>",
// "overridden:<oid>") feed the emergency-override audit record.
//
// Reason codes: client_claim_malformed and client_claim_contradicted (400),
// override_token_required and purpose_not_accepted (403).
type BreakGlass struct {
	BreakGlassConfig
	policy *grants.BreakGlassPolicy
}

// BreakGlassConfig configures break-the-glass.
type BreakGlassConfig struct {
	// Purposes are the accepted purpose-of-use codes. Required.
	Purposes []string `json:"purposes,omitempty"`
	// Policies are the policy OIDs an override may override.
	Policies []string `json:"policies,omitempty"`
	// AllowWithoutToken accepts an override the token does not carry.
	// Default: false. Do not set it in front of SanteDB.
	AllowWithoutToken bool `json:"allow_without_token,omitempty"`
	// Claims names the override and purpose_of_use claims.
	Claims grants.ClaimNames `json:"claims,omitzero"`
}

func (c *BreakGlassConfig) build() (grants.BreakGlass, error) {
	b := grants.BreakGlass{Purposes: c.Purposes, Policies: c.Policies, AllowWithoutToken: c.AllowWithoutToken, Claims: c.Claims}
	return b, b.Provision()
}

// unmarshal reads the block of break_glass or require_policy's override.
func (c *BreakGlassConfig) unmarshal(d *caddyfile.Dispenser, directive string) error {
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch sub := d.Val(); sub {
		case "purposes":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.Errf("%s purposes: name at least one purpose of use, e.g. EMERG", directive)
			}
			c.Purposes = append(c.Purposes, args...)
		case "policies":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.Errf("%s policies: name at least one policy OID", directive)
			}
			for _, oid := range args {
				if _, err := grants.ParsePolicy(oid); err != nil {
					return d.Errf("%s policies %q: %v", directive, oid, err)
				}
			}
			c.Policies = append(c.Policies, args...)
		case "allow_without_token":
			if d.NextArg() {
				return d.ArgErr()
			}
			c.AllowWithoutToken = true
		case "claim":
			if err := unmarshalClaim(d, directive, &c.Claims); err != nil {
				return err
			}
		default:
			return d.Errf("%s: unknown option %q", directive, sub)
		}
	}
	if len(c.Purposes) == 0 {
		return d.Errf("%s: purposes is required (which purposes of use may break the glass)", directive)
	}
	return nil
}

// CaddyModule returns the Caddy module information.
func (BreakGlass) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "healthgate.policies.break_glass", New: func() caddy.Module { return new(BreakGlass) }}
}

// Provision checks the configuration.
func (b *BreakGlass) Provision(caddy.Context) error {
	bg, err := b.build()
	if err != nil {
		return fmt.Errorf("break_glass: %w", err)
	}
	b.policy = &grants.BreakGlassPolicy{BreakGlass: bg}
	return nil
}

// Decide implements pipeline.Policy.
func (b *BreakGlass) Decide(ctx context.Context, req *pipeline.Request) pipeline.Decision {
	return b.policy.Decide(ctx, req)
}

// UnmarshalCaddyfile reads the break_glass sub-directive of healthgate:
//
//	break_glass {
//		purposes <code...>          # required, e.g. EMERG ETREAT
//		policies <oid...>           # policies an override may override
//		allow_without_token         # accept overrides the token does not carry (not for SanteDB)
//		claim    override|purpose_of_use <claim name...>
//	}
func (b *BreakGlass) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // break_glass
	if d.NextArg() {
		return d.ArgErr()
	}
	return b.unmarshal(d, "break_glass")
}

// Interface guards
var (
	_ caddy.Provisioner     = (*BreakGlass)(nil)
	_ pipeline.Policy       = (*BreakGlass)(nil)
	_ caddyfile.Unmarshaler = (*BreakGlass)(nil)
)
