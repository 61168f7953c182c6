package caddymodule

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/healthgate/healthgate/policy/grants"
)

// unmarshalClaim reads `claim <kind> <name...>` of the grants, smart,
// break_glass and require_policy sub-directives: which token claims carry
// the role, device, application, authmethod, override, purpose_of_use or
// patient.
func unmarshalClaim(d *caddyfile.Dispenser, directive string, c *grants.ClaimNames) error {
	args := d.RemainingArgs()
	if len(args) < 2 {
		return d.Errf("%s claim: want <kind> <claim name...>", directive)
	}
	fields := map[string]*[]string{
		"role": &c.Role, "device": &c.Device, "application": &c.Application, "authmethod": &c.AuthMethod,
		"override": &c.Override, "purpose_of_use": &c.PurposeOfUse, "patient": &c.Patient,
	}
	f, ok := fields[args[0]]
	if !ok {
		return d.Errf("%s claim %q: want role, device, application, authmethod, override, purpose_of_use or patient", directive, args[0])
	}
	*f = append(*f, args[1:]...)
	return nil
}
