package grants

import (
	"strings"

	"github.com/healthgate/healthgate/policy/identity"
)

// ClaimNames says which token claims carry what. Each list is tried in
// order; the first claim present wins. The OIDC verifier flattens nested
// claims with dots (santedb.isOverride).
type ClaimNames struct {
	// Role carries the security roles. Default: role, roles.
	Role []string `json:"role,omitempty"`
	// Device carries the device id of the login. Default: devid, santedb.devid.
	Device []string `json:"device,omitempty"`
	// Application carries the application id. Default: appid,
	// santedb.appid, client_id (then the token's client id).
	Application []string `json:"application,omitempty"`
	// AuthMethod carries the grant of the login. Default: authmethod
	// (then the token's AuthMethod).
	AuthMethod []string `json:"authmethod,omitempty"`
	// Override carries the override flag. Default: isOverride,
	// santedb.isOverride.
	Override []string `json:"override,omitempty"`
	// PurposeOfUse carries the purposes of use. Default: purpose_of_use,
	// extensions.ihe_iua.purpose_of_use, purposeOfUse.
	PurposeOfUse []string `json:"purpose_of_use,omitempty"`
	// Patient carries the SMART launch-context patient. Default: patient.
	Patient []string `json:"patient,omitempty"`
}

// WithDefaults fills the empty lists.
func (c ClaimNames) WithDefaults() ClaimNames {
	def := func(have []string, d ...string) []string {
		if len(have) == 0 {
			return d
		}
		return have
	}
	c.Role = def(c.Role, "role", "roles")
	c.Device = def(c.Device, "devid", "santedb.devid")
	c.Application = def(c.Application, "appid", "santedb.appid", "client_id")
	c.AuthMethod = def(c.AuthMethod, "authmethod")
	c.Override = def(c.Override, "isOverride", "santedb.isOverride")
	c.PurposeOfUse = def(c.PurposeOfUse, "purpose_of_use", "extensions.ihe_iua.purpose_of_use", "purposeOfUse")
	c.Patient = def(c.Patient, "patient")
	return c
}

// claimValues returns the values of the first of names present.
func claimValues(p *identity.Principal, names []string) []string {
	for _, n := range names {
		if v, ok := p.Claims[n]; ok {
			return v
		}
	}
	return nil
}

func firstClaim(p *identity.Principal, names []string) string {
	if v := claimValues(p, names); len(v) > 0 {
		return v[0]
	}
	return ""
}

// parseBool reads the booleans SanteDB and JSON write: true/false, 1/0,
// case-insensitive. ok is false for anything else.
func parseBool(s string) (value, ok bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}
