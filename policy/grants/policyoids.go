package grants

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/healthgate/healthgate/policy/identity"
	"github.com/healthgate/healthgate/policy/pipeline"
)

// RequirePolicy demands policy OIDs on a route: each must be in the
// token's scope, where SanteDB puts the granted policies.
type RequirePolicy struct {
	// OIDs are the required policies. Required.
	OIDs []string
	// Inherit lets a granted ancestor OID cover a required one (SanteDB's
	// hierarchy: …9.2.2 covers …9.2.2.3). Default: false, exact match, as
	// SanteDB's PDP does for tokens with scope claims.
	Inherit bool
	// Override, when set, lets an accepted break-the-glass override stand
	// in for missing OIDs listed in Override.Policies.
	Override *BreakGlass
}

// Provision checks the configuration.
func (r *RequirePolicy) Provision() error {
	if len(r.OIDs) == 0 {
		return errors.New("grants: require_policy needs at least one policy OID")
	}
	for _, oid := range r.OIDs {
		if !validOID(oid) {
			return fmt.Errorf("grants: required policy %q is not an OID", oid)
		}
	}
	if r.Override != nil {
		return r.Override.Provision()
	}
	return nil
}

// Decide implements pipeline.Policy.
func (r *RequirePolicy) Decide(_ context.Context, req *pipeline.Request) pipeline.Decision {
	p := &req.Principal
	var missing []string
	for _, oid := range r.OIDs {
		if !r.granted(p, oid) {
			missing = append(missing, oid)
		}
	}
	if len(missing) == 0 {
		return pipeline.Allowed(r.OIDs...)
	}
	if r.Override != nil {
		ov, f := r.Override.Evaluate(req)
		if f != nil {
			return pipeline.Denied(f)
		}
		if ov.Active && !slices.ContainsFunc(missing, func(oid string) bool { return !slices.Contains(r.Override.Policies, oid) }) {
			return pipeline.Allowed(ov.Apply(p, missing)...)
		}
	}
	return pipeline.Denied(insufficientScope(ReasonPolicyMissing, missing,
		fmt.Errorf("grants: token lacks policies %v", missing)), missing...)
}

func (r *RequirePolicy) granted(p *identity.Principal, oid string) bool {
	if !r.Inherit {
		return p.HasScope(oid)
	}
	return slices.ContainsFunc(p.Scopes, func(s string) bool { return validOID(s) && covers(s, oid) })
}
