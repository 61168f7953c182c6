package grants

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/healthgate/healthgate/policy/identity"
	"github.com/healthgate/healthgate/policy/pipeline"
)

// BreakGlass decides over break-the-glass overrides. In SanteDB an override
// is a token requested with X-SanteDBClient-Claim (override, purpose of use):
// the token then carries isOverride, the purpose and the override scope
// (…9.2.999). The gateway accepts an override only when the client asks for
// it, the purpose is configured and the verified token carries it, and it
// refuses a client claim the token contradicts (400, as SanteDB does).
type BreakGlass struct {
	// Purposes are the accepted purpose-of-use codes (EMERG, ETREAT, or
	// SanteDB concept ids), compared case-insensitively. Required.
	Purposes []string
	// Policies are the policy OIDs an accepted override may override.
	Policies []string
	// AllowWithoutToken accepts an override the token does not carry.
	// Default: false. MUST NOT be set where tokens come from SanteDB,
	// which issues override tokens itself.
	AllowWithoutToken bool
	// Claims names the token claims read.
	Claims ClaimNames
}

// Override is an evaluated override request.
type Override struct {
	// Active is set when the request runs under an accepted override.
	Active bool
	// PurposeOfUse lists the accepted purposes of use.
	PurposeOfUse []string
}

// tokenOverride reads what the verified token says about an override.
type tokenOverride struct {
	said, override bool
	purposes       []string
}

func (b *BreakGlass) fromToken(p *identity.Principal) tokenOverride {
	var t tokenOverride
	if v := claimValues(p, b.Claims.Override); len(v) > 0 {
		t.override, t.said = parseBool(v[0])
	}
	if p.HasScope(OIDOverride) {
		t.said, t.override = true, true
	}
	t.purposes = claimValues(p, b.Claims.PurposeOfUse)
	return t
}

// Evaluate reads the client claims of req against its verified token. It
// does not change the principal; Apply does.
func (b *BreakGlass) Evaluate(req *pipeline.Request) (Override, *pipeline.Failure) {
	p := &req.Principal
	tok := b.fromToken(p)
	headers := req.HTTP.Header.Values(ClientClaimHeader)
	if len(headers) > 1 {
		return Override{}, pipeline.BadRequest(ReasonClaimMalformed, errors.New("grants: more than one client claim header"))
	}
	if len(headers) == 0 {
		if !tok.override {
			return Override{}, nil
		}
		// A token issued for an override session.
		if f := b.accept(tok.purposes); f != nil {
			return Override{}, f
		}
		return Override{Active: true, PurposeOfUse: tok.purposes}, nil
	}
	cc, err := ParseClientClaims(headers[0])
	if err != nil {
		return Override{}, pipeline.BadRequest(ReasonClaimMalformed, err)
	}
	if len(tok.purposes) > 0 {
		for _, pou := range cc.PurposeOfUse {
			if !slices.ContainsFunc(tok.purposes, func(s string) bool { return strings.EqualFold(s, pou) }) {
				return Override{}, pipeline.BadRequest(ReasonClaimContradicted,
					fmt.Errorf("grants: client claims purpose %q, the token grants %q", pou, tok.purposes))
			}
		}
	}
	if cc.OverrideSet && tok.said && cc.Override != tok.override {
		return Override{}, pipeline.BadRequest(ReasonClaimContradicted,
			fmt.Errorf("grants: client claims override=%v, the token says %v", cc.Override, tok.override))
	}
	if !cc.Override {
		if len(cc.PurposeOfUse) > 0 {
			if f := b.accept(cc.PurposeOfUse); f != nil {
				return Override{}, f
			}
		}
		return Override{PurposeOfUse: cc.PurposeOfUse}, nil
	}
	if !tok.override && !b.AllowWithoutToken {
		return Override{}, pipeline.Forbidden(ReasonOverrideTokenRequired,
			errors.New("grants: override claimed but the token carries none"))
	}
	if f := b.accept(cc.PurposeOfUse); f != nil {
		return Override{}, f
	}
	return Override{Active: true, PurposeOfUse: cc.PurposeOfUse}, nil
}

// accept checks that purposes is non-empty and every purpose is configured.
func (b *BreakGlass) accept(purposes []string) *pipeline.Failure {
	if len(purposes) == 0 {
		return pipeline.Forbidden(ReasonPurposeNotAccepted, errors.New("grants: override without a purpose of use"))
	}
	for _, pou := range purposes {
		if !slices.ContainsFunc(b.Purposes, func(s string) bool { return strings.EqualFold(s, pou) }) {
			return pipeline.Forbidden(ReasonPurposeNotAccepted, fmt.Errorf("grants: purpose of use %q is not accepted", pou))
		}
	}
	return nil
}

// Apply marks an accepted override on the principal and returns the
// decision's grounds: "override", "purpose:<code>" per purpose and
// "overridden:<oid>" per overridden policy (the audit's emergency-override
// record lists them).
func (o Override) Apply(p *identity.Principal, overridden []string) []string {
	grounds := make([]string, 0, 1+len(o.PurposeOfUse)+len(overridden))
	if o.Active {
		p.Override = true
		grounds = append(grounds, "override")
	}
	if len(o.PurposeOfUse) > 0 {
		p.PurposeOfUse = o.PurposeOfUse
	}
	for _, pou := range o.PurposeOfUse {
		grounds = append(grounds, "purpose:"+pou)
	}
	for _, oid := range overridden {
		grounds = append(grounds, "overridden:"+oid)
	}
	return grounds
}

// BreakGlassPolicy is break-the-glass on its own: it refuses malformed or
// contradicted client claims and unaccepted overrides, and marks accepted
// ones on the principal. The overridden policies it reports are the
// configured Policies the token's scope holds (SanteDB puts the policies
// an override session was opened for in the scope).
type BreakGlassPolicy struct{ BreakGlass }

// Provision fills defaults and checks the configuration.
func (b *BreakGlass) Provision() error {
	if len(b.Purposes) == 0 {
		return errors.New("grants: break-the-glass needs at least one accepted purpose of use")
	}
	for _, oid := range b.Policies {
		if !validOID(oid) {
			return fmt.Errorf("grants: overridable policy %q is not an OID", oid)
		}
	}
	b.Claims = b.Claims.WithDefaults()
	return nil
}

// Decide implements pipeline.Policy.
func (b *BreakGlassPolicy) Decide(_ context.Context, req *pipeline.Request) pipeline.Decision {
	ov, f := b.Evaluate(req)
	if f != nil {
		return pipeline.Denied(f)
	}
	if !ov.Active && len(ov.PurposeOfUse) == 0 {
		return pipeline.Abstained()
	}
	var overridden []string
	if ov.Active {
		for _, oid := range b.Policies {
			if req.Principal.HasScope(oid) {
				overridden = append(overridden, oid)
			}
		}
	}
	return pipeline.Allowed(ov.Apply(&req.Principal, overridden)...)
}
